# Bulkhead — the entry point. Everything installs itself under .tools/ (gitignored).
#   make up      install what is missing, build, start infra, the observability backends (Jaeger, the
#                OpenTelemetry Collector, Prometheus) and every service (BULKHEAD_CELL_COUNT cells, default 2), print URLs
#   make down    stop everything (data kept under .data/)
#   make test    run every test suite (starts what it needs, stops what it started)
#   make kind-up / kind-test / kind-down   the platform on a real kind cluster (docs/deploy.md)
#   make load SCENARIO=x [RATE=n DURATION=d]   one k6 scenario against the local stack (load-tests/)
#   make bench-overload [CAPACITY=n LEVEL=60s RECOVERY=120s]   the overload benchmark (load-tests/)
#   make bench-telemetry [ROUNDS=2 VUS=64 DURATION=60s]   orders/s, POST p99 and CPU per order with trace and metric export off and on
#   make relay-outage [MINUTES=n]   the outbox relay through a Kafka outage of n minutes (default 10)
#   make redrive TOPIC=<consumed topic> [ID=<message id>]   re-publish dead letters of TOPIC.dead-letters to TOPIC
#   make chaos [SEED=1 DURATION=5m PROFILE=full|short]   orders under a seeded fault schedule, then the consistency checker
#   make dashboards / dashboards-png [RANGE=15m]   regenerate the Grafana dashboards / draw them as PNGs from the local Prometheus
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(CURDIR)/.tools/bin:$(PATH)
export npm_config_update_notifier := false

.PHONY: help toolchain deps generate build up down status test lint format typecheck check-references clean chart-render images kind-up kind-down kind-test kind-token load bench-overload bench-telemetry bench relay-outage redrive chaos dashboards dashboards-png

help:
	@echo "make up | down | status | test | build | lint | typecheck | check-references | format | chart-render | clean"
	@echo "make images | kind-up | kind-test | kind-down | kind-token"
	@echo "make load SCENARIO=smoke|load|stress|spike|soak|grpc|capacity [RATE=n DURATION=d] | bench-overload [CAPACITY=n] | bench-telemetry [ROUNDS=2] | bench [STEPS=\"25 50 100\" STEP=30s SUSTAIN_RATE=n]"
	@echo "make relay-outage [MINUTES=n]"
	@echo "make redrive TOPIC=<consumed topic> [ID=<message id>]"
	@echo "make chaos [SEED=1 DURATION=5m PROFILE=full|short]"
	@echo "make dashboards | dashboards-png [RANGE=15m]"

toolchain:
	@bash infra/local/toolchain.sh

# deps and generate are skipped when their inputs are unchanged since they last succeeded
# (infra/local/stamp.sh lists the inputs; the stamps are node_modules/.bulkhead-deps.sha256
# and packages/contracts/src/gen/.stamp).
deps: toolchain
	@bash infra/local/stamp.sh deps pnpm install --frozen-lockfile --prefer-offline --loglevel=error

generate: deps
	@bash infra/local/stamp.sh generate pnpm --silent --filter @bulkhead/contracts generate

build: generate
	@echo "[bulkhead] compiling (tsc -b)"
	@pnpm exec tsc -b

up: build
	@bash infra/local/infra.sh start
	@bash infra/local/observability.sh start
	@bash infra/local/services.sh start

down:
	@bash infra/local/services.sh stop
	@bash infra/local/observability.sh stop
	@bash infra/local/infra.sh stop

status:
	@bash infra/local/infra.sh status

test:
	@bash infra/local/test.sh

lint: deps
	@pnpm exec eslint .
	@pnpm exec prettier --check .

typecheck: build
	@pnpm exec tsc -p tsconfig.test.json

# Each workspace's tsconfig.json references match its @bulkhead/* dependencies (also in make test).
check-references: toolchain
	@node infra/local/check-references.mjs

# After a reviewed chart change: regenerate files/deployables.json from the manifest and rewrite
# the committed renderings (charts/bulkhead/examples/*/rendered.yaml) that make test compares.
chart-render: build
	@node packages/manifest/dist/chart-facts.js write
	@bash infra/kind/tools.sh helm helm4 kubeconform kube-schemas promtool otelcol jaeger
	@BULKHEAD_UPDATE_RENDERED=1 pnpm exec vitest run --project chart

# The outbox relay through a Kafka outage of MINUTES (default 10) on a broker of the test's own
# (packages/outbox/test/relay-outage.int.test.ts; `make test` runs it with 2 minutes). Needs the
# infra (PostgreSQL); prints the heap samples and the drain time, the whole log in .data/.
MINUTES ?= 10
relay-outage: build
	@log="$${BULKHEAD_DATA_DIR:-.data}/logs/relay-outage.log"; mkdir -p "$${log%/*}"; \
	echo "[bulkhead] outbox relay through a $(MINUTES)-minute Kafka outage (log: $$log)"; \
	BULKHEAD_RELAY_OUTAGE_SECONDS=$$(( $(MINUTES) * 60 )) BULKHEAD_TEST_LOG_LEVEL=info \
	  pnpm exec vitest run --project integration packages/outbox/test/relay-outage.int.test.ts \
	  >"$$log" 2>&1; rc=$$?; \
	grep -E '"msg":"(outage over|consumed)"|Tests ' "$$log"; exit $$rc

# Container images of every deployable (online, or offline from Debian + npm + Maven): infra/images/.
images:
	@bash infra/images/build.sh

# The platform on kind (docs/deploy.md): up builds/loads images and installs the chart; test runs
# the end-to-end suite there; down deletes the cluster and undoes every host change.
kind-up: build
	@bash infra/kind/up.sh
kind-test: build
	@bash infra/kind/test.sh
kind-down:
	@bash infra/kind/down.sh
kind-token:
	@bash -c '. infra/kind/lib.sh && admin_token && echo'

# k6 against the running local stack (make up); outputs under .data/load/ (load-tests/README.md).
# Every other knob (CAPACITY, LEVEL, RECOVERY, POLL_INTERVAL, ...) reaches k6 from the command line.
SCENARIO ?= smoke
load: build
	@bash load-tests/run.sh load "$(SCENARIO)" "$(RATE)" "$(DURATION)"
bench-overload: build
	@bash load-tests/run.sh bench-overload
bench-telemetry: build
	@bash load-tests/telemetry-overhead.sh
bench: build
	@bash load-tests/bench.sh

# Dead letters of TOPIC.dead-letters back to TOPIC after a fix: all not redriven before, or one
# message by id (packages/event-bus-kafka/src/redrive.ts; brokers from BULKHEAD_KAFKA_BROKERS).
redrive: build
	@test -n "$(TOPIC)" || { echo "usage: make redrive TOPIC=<consumed topic> [ID=<message id>]" >&2; exit 2; }
	@node packages/event-bus-kafka/dist/redrive-cli.js "$(TOPIC)" $(if $(ID),"$(ID)")

# Order load under a seeded, replayable fault schedule, then the consistency checker; output under
# .data/chaos/<seed>-<time>/ (docs/consistency.md). Starts and stops its own services.
chaos: build
	@bash infra/local/chaos.sh "$(or $(SEED),1)" "$(or $(DURATION),5m)" "$(or $(PROFILE),full)"

format: deps
	@pnpm exec prettier --write .

clean: # src/gen holds the generate stamp too
	rm -rf packages/*/dist services/*/dist packages/*/tsconfig.tsbuildinfo services/*/tsconfig.tsbuildinfo packages/contracts/src/gen

# The Grafana dashboards as code (packages/dashboards): regenerate the committed JSON under
# charts/bulkhead/files/dashboards/ (a unit test fails while it differs from the code).
dashboards: build
	@node packages/dashboards/dist/generate.js

# Every dashboard drawn as docs/dashboards/<name>.png from its panel queries against the local
# Prometheus (BULKHEAD_PROMETHEUS_URL) over the last RANGE, variables at "All". Needs `make up`
# and some load (make load SCENARIO=smoke) for lines to draw.
RANGE ?= 15m
dashboards-png: dashboards
	@BULKHEAD_DASHBOARD_RANGE=$(RANGE) node packages/dashboards/dist/render-png.js
