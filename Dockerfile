# Container images of the Bulkhead deployables: one target per service in services/
# (control-plane, orders, inventory, payments, gateway, config-agent).
#
#   DOCKER_BUILDKIT=1 docker build --target orders -t bulkhead/orders:dev .
#   ... --build-arg BASE_IMAGE=bulkhead-local/node:24.21.0-bookworm-slim   (offline base,
#       infra/images/base.sh; infra/images/build.sh does all of this and labels the images)
#
# Behind a TLS-intercepting proxy, give the build its CA bundle as a BuildKit secret (never in a
# layer): `--secret id=build-ca,src=/etc/ssl/certs/ca-certificates.crt` (build.sh does when
# NODE_EXTRA_CA_CERTS or SSL_CERT_FILE is set). Without it the registries' public CAs are used.
#
# Needs BuildKit (cache and secret mounts). There is deliberately no `# syntax=` line: it would make BuildKit
# pull its Dockerfile frontend from a registry, which an offline build cannot; the frontend built
# into Docker >= 20.10 has everything used here.
#
# Stages: toolchain (base + pinned pnpm) -> manifests (package.json files only) -> deps
# (`pnpm install --frozen-lockfile`, cached until a manifest or the lockfile changes) -> build
# (codegen + tsc -b, like `make build`) -> <svc>-deploy (`pnpm deploy --prod`, see
# infra/images/deploy.sh) -> runtime (the base without npm/npx/corepack/yarn, flattened) -> <svc>.
ARG BASE_IMAGE=node:24.21.0-bookworm-slim

FROM ${BASE_IMAGE} AS toolchain
ARG PNPM_VERSION=10.34.9
ENV CI=true \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
# npm only installs pnpm (corepack's signature check fails on some machines; npm works anywhere).
RUN --mount=type=secret,id=build-ca \
    if [ -s /run/secrets/build-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build-ca; fi \
    && npm install --global --no-fund --no-audit "pnpm@${PNPM_VERSION}" \
    && test "$(pnpm --version)" = "${PNPM_VERSION}"
WORKDIR /src

# Only what `pnpm install` reads (manifests, lockfile, the patches of patchedDependencies), so
# that a source change does not re-run the install.
FROM toolchain AS manifests
COPY . /context
RUN cd /context \
    && mkdir /manifests \
    && find . -name package.json -not -path '*/node_modules/*' -print0 \
       | tar --null -cf - -T - pnpm-lock.yaml pnpm-workspace.yaml .npmrc patches \
       | tar -xf - -C /manifests

FROM toolchain AS deps
COPY --from=manifests /manifests/ ./
# The store lives in a BuildKit cache mount: warm rebuilds download nothing, and no layer holds it.
RUN --mount=type=cache,id=bulkhead-pnpm-store,target=/pnpm/store \
    --mount=type=secret,id=build-ca \
    if [ -s /run/secrets/build-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build-ca; fi \
    && pnpm install --frozen-lockfile --prefer-offline --store-dir /pnpm/store

# The same as `make build`: protobuf codegen (buf + ts-proto), then tsc -b over the workspace.
FROM deps AS build
COPY . .
RUN pnpm --silent --filter @bulkhead/contracts generate \
    && pnpm exec tsc -b

FROM build AS control-plane-deploy
RUN --mount=type=cache,id=bulkhead-pnpm-store,target=/pnpm/store --mount=type=secret,id=build-ca \
    infra/images/deploy.sh control-plane /out
FROM build AS orders-deploy
RUN --mount=type=cache,id=bulkhead-pnpm-store,target=/pnpm/store --mount=type=secret,id=build-ca \
    infra/images/deploy.sh orders /out
FROM build AS inventory-deploy
RUN --mount=type=cache,id=bulkhead-pnpm-store,target=/pnpm/store --mount=type=secret,id=build-ca \
    infra/images/deploy.sh inventory /out
FROM build AS payments-deploy
RUN --mount=type=cache,id=bulkhead-pnpm-store,target=/pnpm/store --mount=type=secret,id=build-ca \
    infra/images/deploy.sh payments /out
FROM build AS gateway-deploy
RUN --mount=type=cache,id=bulkhead-pnpm-store,target=/pnpm/store --mount=type=secret,id=build-ca \
    infra/images/deploy.sh gateway /out
FROM build AS config-agent-deploy
RUN --mount=type=cache,id=bulkhead-pnpm-store,target=/pnpm/store --mount=type=secret,id=build-ca \
    infra/images/deploy.sh config-agent /out

# The runtime filesystem: the base image without its package managers (npm, npx, corepack, yarn),
# C headers and docs; the base has no compilers (checked). Flattened into one layer below, so the
# removed files are not in a lower layer either.
FROM ${BASE_IMAGE} AS runtime-fs
RUN rm -rf /usr/local/lib/node_modules /opt/yarn-* /usr/local/include /usr/local/share/doc \
        /usr/local/share/man /usr/local/share/systemtap /usr/local/CHANGELOG.md \
        /usr/local/README.md /usr/local/LICENSE \
    && for tool in npm npx corepack yarn yarnpkg pnpm; do rm -f "/usr/local/bin/$tool"; done \
    && for tool in npm npx corepack yarn yarnpkg pnpm gcc cc g++ c++ make; do \
         if command -v "$tool" >/dev/null; then echo "$tool is still in the runtime image" >&2; exit 1; fi; \
       done \
    && node --version

FROM scratch AS runtime
COPY --from=runtime-fs / /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production
# Owned by root and read-only to the service: nothing is written under /app at run time (the
# routing snapshot goes to SNAPSHOT_PATH, a mounted volume; everything else to stdout).
WORKDIR /app
USER 1000:1000
# Exactly what services/<svc>/package.json "start" runs (deploy.sh fails the build if it drifts).
ENTRYPOINT ["node", "--enable-source-maps", "--import", "@bulkhead/telemetry/register", "dist/main.js"]
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
ARG SOURCE=""
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="${LICENSES}" \
      org.opencontainers.image.vendor="Bulkhead"

FROM runtime AS control-plane
COPY --from=control-plane-deploy /out/ /app/
LABEL org.opencontainers.image.title="bulkhead-control-plane" \
      org.opencontainers.image.description="Bulkhead control plane: tenants, cells and the versioned routing snapshot; admin REST API and WatchSnapshot."

FROM runtime AS orders
COPY --from=orders-deploy /out/ /app/
LABEL org.opencontainers.image.title="bulkhead-orders" \
      org.opencontainers.image.description="Bulkhead orders: owns orders and orchestrates the order saga (one per cell)."

FROM runtime AS inventory
COPY --from=inventory-deploy /out/ /app/
LABEL org.opencontainers.image.title="bulkhead-inventory" \
      org.opencontainers.image.description="Bulkhead inventory: owns products and stock; a saga participant (one per cell)."

FROM runtime AS payments
COPY --from=payments-deploy /out/ /app/
LABEL org.opencontainers.image.title="bulkhead-payments" \
      org.opencontainers.image.description="Bulkhead payments: a simulated payment processor; a saga participant (one per cell)."

FROM runtime AS gateway
COPY --from=gateway-deploy /out/ /app/
LABEL org.opencontainers.image.title="bulkhead-gateway" \
      org.opencontainers.image.description="Bulkhead gateway: the public REST API (API-key auth, rate limit, REST to gRPC to the tenant's cell)."

FROM runtime AS config-agent
COPY --from=config-agent-deploy /out/ /app/
LABEL org.opencontainers.image.title="bulkhead-config-agent" \
      org.opencontainers.image.description="Bulkhead config agent: the gateway's sidecar keeping its routing snapshot file current from the control plane."
