/**
 * The Helm chart, checked without a cluster (make test). For every case of the render matrix and
 * under Helm 3 and Helm 4: `helm lint --strict`, `helm template`, every object validated against
 * the Kubernetes 1.34 OpenAPI schemas in strict mode (kubeconform and kubernetes-validate), the
 * policy below, and the output compared with the committed rendering in
 * charts/bulkhead/examples/<case>/rendered.yaml (`make chart-render` rewrites them after a
 * reviewed change). The tools are installed by infra/kind/tools.sh.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  BIN,
  CHART,
  KUBE_VERSION,
  NAMESPACE,
  RELEASE,
  ROOT,
  SCHEMAS,
  UPDATE,
  containersOf,
  facts,
  matches,
  parse,
  pdbSelector,
  podsOf,
  run,
  template,
  type Container,
  type K8sObject,
  type Labels,
  type PodSpec,
} from './chart-kit.js';

interface Case {
  name: string;
  valuesFiles: string[];
  cells: string[];
}

const exampleCells: Record<string, string[]> = {
  default: ['cell-1', 'cell-2'],
  'one-cell': ['cell-1'],
  'three-cells': ['cell-1', 'cell-2', 'eu-west-1'],
  'external-infra': ['cell-1', 'cell-2'],
  'no-network-policy': ['cell-1', 'cell-2'],
  'infra-only': [],
  observability: ['cell-1', 'cell-2'],
  'jaeger-only': ['cell-1', 'cell-2'],
};
/** The observability backends that run as Deployments in a case (Prometheus is a StatefulSet). */
const exampleBackends: Record<string, string[]> = {
  observability: ['grafana', 'jaeger', 'otel-collector'],
  'jaeger-only': ['jaeger'],
  kind: ['jaeger', 'otel-collector'],
  'kind-offline': ['jaeger', 'otel-collector'],
};
const cases: Case[] = [
  ...readdirSync(path.join(CHART, 'examples'))
    .filter((name) => existsSync(path.join(CHART, 'examples', name, 'values.yaml')))
    .map((name) => ({
      name,
      valuesFiles: [path.join(CHART, 'examples', name, 'values.yaml')],
      cells: exampleCells[name] ?? [],
    })),
  // What make kind-up installs, online and offline.
  {
    name: 'kind',
    valuesFiles: [path.join(ROOT, 'infra/kind/values.yaml')],
    cells: ['cell-1', 'cell-2'],
  },
  {
    name: 'kind-offline',
    valuesFiles: [
      path.join(ROOT, 'infra/kind/values.yaml'),
      path.join(ROOT, 'infra/kind/values-offline.yaml'),
    ],
    cells: ['cell-1', 'cell-2'],
  },
];
const helms = [
  { name: 'helm3', bin: path.join(BIN, 'helm') },
  { name: 'helm4', bin: path.join(BIN, 'helm4') },
];

/**
 * The random values of the generated Secret differ per render: masked for comparison. Helm 4
 * leaves a blank line before each document separator where Helm 3 does not: dropped.
 */
function normalize(rendered: string): string {
  return rendered
    .replace(/\n\n+(?=---\n)/g, '\n')
    .replace(
      /(kind: Secret\n(?:.*\n)*?data:\n)((?: {2}[a-z-]+: .*\n)+)/g,
      (_all, head: string, data: string) => head + data.replace(/: .*$/gm, ': <random>'),
    );
}

// --- the policy ----------------------------------------------------------------------------

const SECRET_NAME = /PASSWORD|TOKEN|SECRET|REDISCLI_AUTH/;
const URL_WITH_LITERAL_PASSWORD = /:\/\/[^/@\s]*:[^$/@\s][^/@\s]*@/;

function containerViolations(at: string, c: Container): string[] {
  const bad: string[] = [];
  if (!c.startupProbe) bad.push(`${at}: no startupProbe`);
  if (!c.readinessProbe) bad.push(`${at}: no readinessProbe`);
  if (!c.livenessProbe) bad.push(`${at}: no livenessProbe`);
  if (!c.resources?.requests?.cpu || !c.resources.requests.memory)
    bad.push(`${at}: no cpu/memory requests`);
  if (!c.resources?.limits?.memory) bad.push(`${at}: no memory limit`);
  const sc = c.securityContext ?? {};
  if (sc.runAsNonRoot !== true) bad.push(`${at}: not runAsNonRoot`);
  if (!((sc.runAsUser ?? 0) > 0)) bad.push(`${at}: runAsUser is not a non-root uid`);
  if (sc.readOnlyRootFilesystem !== true) bad.push(`${at}: root filesystem writable`);
  if (sc.allowPrivilegeEscalation !== false) bad.push(`${at}: privilege escalation allowed`);
  if (JSON.stringify(sc.capabilities?.drop) !== '["ALL"]' || sc.capabilities?.add)
    bad.push(`${at}: capabilities not all dropped`);
  if (sc.seccompProfile?.type !== 'RuntimeDefault') bad.push(`${at}: seccomp not RuntimeDefault`);
  const names = (c.env ?? []).map((e) => e.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) bad.push(`${at}: env ${dup} set twice`);
  for (const e of c.env ?? []) {
    if (SECRET_NAME.test(e.name) && e.value !== undefined)
      bad.push(`${at}: ${e.name} is a literal, not from a Secret`);
    if (e.value !== undefined && URL_WITH_LITERAL_PASSWORD.test(e.value))
      bad.push(`${at}: ${e.name} embeds a literal password`);
  }
  return bad;
}

/** A Service port that the manifest says nobody calls (and that is not public). */
function hasNoCaller(svc: K8sObject, portName: string): boolean {
  const component = svc.metadata.labels?.['app.kubernetes.io/component'] ?? '';
  const spec = facts.deployables[component];
  if (!spec) return false; // infrastructure: its clients are listed in infraClients
  const isPublic = (spec.kind === 'edge' || spec.kind === 'control-plane') && portName === 'http';
  return !isPublic && (spec.callers[portName] ?? []).length === 0;
}

function networkViolations(objects: K8sObject[]): string[] {
  const bad: string[] = [];
  const pods = podsOf(objects);
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const denyAll = policies.find(
    (p) => !p.spec?.ingress && p.spec?.policyTypes?.includes('Ingress'),
  );
  if (!denyAll) bad.push('no default-deny NetworkPolicy');
  for (const pod of pods) {
    if (denyAll && !matches(denyAll.spec?.podSelector?.matchLabels, pod.labels))
      bad.push(`${pod.owner.metadata.name}: outside default-deny`);
  }
  for (const svc of objects.filter((o) => o.kind === 'Service')) {
    const selected = pods.filter((p) => matches(svc.spec?.selector, p.labels));
    for (const port of svc.spec?.ports ?? []) {
      const where = `Service/${svc.metadata.name} port ${port.name}`;
      const target = selected
        .flatMap((p) => containersOf(p.spec))
        .flatMap((c) => c.ports ?? [])
        .find((cp) => cp.name === port.targetPort || cp.containerPort === port.targetPort);
      if (!target) {
        bad.push(`${where}: targets no container port`);
        continue;
      }
      const covered = policies.some(
        (np) =>
          np !== denyAll &&
          matches(np.spec?.podSelector?.matchLabels, svc.spec?.selector) &&
          (np.spec?.ingress ?? []).some((rule) =>
            (rule.ports ?? []).some((p) => p.port === target.containerPort),
          ),
      );
      // A port nobody calls stays closed (default-deny); one that someone calls is allowed.
      const noCaller = hasNoCaller(svc, port.name);
      if (!covered && !noCaller) bad.push(`${where}: no NetworkPolicy allows it`);
      if (covered && noCaller) bad.push(`${where}: allowed, but the manifest names no caller`);
    }
  }
  return bad;
}

const READ_VERBS = new Set(['get', 'list', 'watch']);

/**
 * API access: only namespaced Roles that read, bound to the chart's own ServiceAccounts (Prometheus
 * discovering pods); no cluster-wide RBAC. Returns the violations and the accounts that may
 * mount a token.
 */
function rbacViolations(objects: K8sObject[]): { bad: string[]; readers: Set<string> } {
  const bad: string[] = [];
  const readers = new Set<string>();
  for (const o of objects.filter(
    (x) => x.kind === 'ClusterRole' || x.kind === 'ClusterRoleBinding',
  ))
    bad.push(`${o.kind}/${o.metadata.name}: cluster-wide RBAC`);
  const roles = new Map(objects.filter((o) => o.kind === 'Role').map((o) => [o.metadata.name, o]));
  for (const [name, role] of roles) {
    for (const rule of role.rules ?? []) {
      const writes = rule.verbs.filter((v) => !READ_VERBS.has(v));
      if (writes.length > 0) bad.push(`Role/${name}: may ${writes.join(', ')}`);
    }
  }
  for (const binding of objects.filter((o) => o.kind === 'RoleBinding')) {
    const where = `RoleBinding/${binding.metadata.name}`;
    if (binding.roleRef?.kind !== 'Role' || !roles.has(binding.roleRef.name)) {
      bad.push(`${where}: binds no Role of the chart`);
      continue;
    }
    for (const s of binding.subjects ?? []) {
      if (s.kind !== 'ServiceAccount' || s.namespace !== NAMESPACE)
        bad.push(`${where}: binds ${s.kind}/${s.name} outside the release`);
      else readers.add(s.name);
    }
  }
  for (const sa of objects.filter((o) => o.kind === 'ServiceAccount')) {
    if (sa.automountServiceAccountToken !== false && !readers.has(sa.metadata.name))
      bad.push(`ServiceAccount/${sa.metadata.name}: token mounted by default without a Role`);
  }
  return { bad, readers };
}

/** Every violation of the policy, as readable lines (empty: compliant). */
function policyViolations(objects: K8sObject[], networkPolicies: boolean): string[] {
  const { bad, readers: apiReaders } = rbacViolations(objects);
  const serviceAccounts = new Set(
    objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name),
  );
  const usedAccounts = new Map<string, string>();
  for (const { owner, spec } of podsOf(objects)) {
    const where = `${owner.kind}/${owner.metadata.name}`;
    if (
      spec.automountServiceAccountToken !== false &&
      !apiReaders.has(spec.serviceAccountName ?? '')
    )
      bad.push(`${where}: mounts a service account token without a read-only Role`);
    const sa = spec.serviceAccountName;
    if (!sa || sa === 'default' || !serviceAccounts.has(sa))
      bad.push(`${where}: no ServiceAccount of its own`);
    else if (usedAccounts.has(sa)) bad.push(`${where}: shares ServiceAccount ${sa}`);
    else usedAccounts.set(sa, where);
    if (spec.securityContext?.runAsNonRoot !== true) bad.push(`${where}: pod not runAsNonRoot`);
    if (spec.securityContext?.seccompProfile?.type !== 'RuntimeDefault')
      bad.push(`${where}: pod seccomp not RuntimeDefault`);
    for (const c of containersOf(spec))
      bad.push(...containerViolations(`${where} container ${c.name}`, c));
    for (const c of spec.initContainers ?? []) {
      if (c.restartPolicy !== 'Always')
        bad.push(`${where}: init container ${c.name} is not a native sidecar`);
    }
  }
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
  for (const pod of podsOf(objects).filter((p) => p.owner.kind === 'Deployment')) {
    const name = `Deployment/${pod.owner.metadata.name}`;
    if (!pdbs.some((p) => matches(pdbSelector(p), pod.labels)))
      bad.push(`${name}: no PodDisruptionBudget`);
    if (!pod.spec.topologySpreadConstraints?.length) bad.push(`${name}: no topology spread`);
  }
  if (networkPolicies) bad.push(...networkViolations(objects));
  return bad;
}

function validateStrict(rendered: string): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'bulkhead-chart-'));
  const file = path.join(dir, 'rendered.yaml');
  writeFileSync(file, rendered);
  const errors: string[] = [];
  const kc = run(path.join(BIN, 'kubeconform'), [
    '-strict',
    '-summary',
    '-kubernetes-version',
    '1.34.0',
    '-schema-location',
    `${SCHEMAS}/{{.NormalizedKubernetesVersion}}-local{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json`,
    file,
  ]);
  if (kc.status !== 0 || !/Invalid: 0, Errors: 0, Skipped: 0/.test(kc.stdout))
    errors.push(`kubeconform: ${kc.stdout}${kc.stderr}`);
  const kv = run(path.join(BIN, 'kubernetes-validate'), [
    '--strict',
    '--quiet',
    '-k',
    '1.34.0',
    file,
  ]);
  if (kv.status !== 0) errors.push(`kubernetes-validate: ${kv.stdout}${kv.stderr}`);
  return errors;
}

describe.each(cases)('chart case $name', (c) => {
  const renders = new Map<string, string>();
  describe.each(helms)('$name', (helm) => {
    it('lints with --strict', () => {
      const r = run(helm.bin, [
        'lint',
        '--strict',
        CHART,
        '--kube-version',
        KUBE_VERSION,
        ...c.valuesFiles.flatMap((f) => ['-f', f]),
      ]);
      expect(r.stderr + r.stdout).toMatch(/0 chart\(s\) failed/);
      expect(r.status).toBe(0);
    });

    it('renders objects valid against the Kubernetes 1.34 schemas (strict)', () => {
      const r = template(helm.bin, c.valuesFiles);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      renders.set(helm.name, r.stdout);
      expect(validateStrict(r.stdout)).toEqual([]);
    });

    it('meets the policy', () => {
      const objects = parse(renders.get(helm.name) ?? template(helm.bin, c.valuesFiles).stdout);
      const np = !c.name.startsWith('no-network-policy');
      expect(policyViolations(objects, np)).toEqual([]);
      // One Deployment per cell service per cell, plus the control plane and the gateway.
      const deployments = objects
        .filter((o) => o.kind === 'Deployment')
        .map((o) => o.metadata.name)
        .sort();
      const platform = c.cells.length > 0; // infra-only renders no deployable
      const expected = [
        ...Object.entries(facts.deployables)
          .filter(() => platform)
          .filter(([, d]) => d.kind === 'edge' || d.kind === 'control-plane')
          .map(([name]) => `${RELEASE}-${name}`),
        ...c.cells.flatMap((cell) => facts.cellServices.map((s) => `${RELEASE}-${cell}-${s}`)),
        ...(exampleBackends[c.name] ?? []).map((b) => `${RELEASE}-${b}`),
      ].sort();
      expect(deployments).toEqual(expected);
    });

    it('matches the committed rendering', () => {
      const rendered = normalize(
        renders.get(helm.name) ?? template(helm.bin, c.valuesFiles).stdout,
      );
      const file = path.join(CHART, 'examples', c.name, 'rendered.yaml');
      if (UPDATE && helm.name === 'helm3') {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, rendered);
      }
      expect(existsSync(file), `${file} is missing: run make chart-render`).toBe(true);
      expect(rendered).toBe(readFileSync(file, 'utf8'));
    });
  });
});

describe('chart structure', () => {
  const helm = helms[0]!.bin;
  const objects = parse(template(helm, []).stdout);
  const podOf = (deployment: string): PodSpec => {
    const pod = podsOf(objects).find((p) => p.owner.metadata.name === deployment);
    if (!pod) throw new Error(`no workload ${deployment}`);
    return pod.spec;
  };
  const containerOf = (deployment: string, container: string): Container => {
    const c = containersOf(podOf(deployment)).find((x) => x.name === container);
    if (!c) throw new Error(`no container ${container} in ${deployment}`);
    return c;
  };
  const env = (deployment: string, container: string): Labels =>
    Object.fromEntries(
      (containerOf(deployment, container).env ?? []).map((e) => [
        e.name,
        e.value ?? '<from secret>',
      ]),
    );

  it('gives each cell its own services, databases and cell id, and the control plane every endpoint', () => {
    expect(env('bulkhead-cell-2-orders', 'orders')).toMatchObject({
      CELL_ID: 'cell-2',
      GRPC_PORT: '7111',
      GRPC_HOST: '0.0.0.0',
    });
    const cells = JSON.parse(env('bulkhead-control-plane', 'control-plane').BULKHEAD_CELLS!);
    expect(cells).toEqual(
      ['cell-1', 'cell-2'].map((id) => ({
        id,
        endpoints: Object.fromEntries(
          facts.cellServices.map((s) => [
            s,
            `bulkhead-${id}-${s}:${facts.deployables[s]!.ports.grpc!.port}`,
          ]),
        ),
      })),
    );
  });

  it('runs the config agent as a native sidecar sharing the snapshot volume with the gateway', () => {
    const gw = podOf('bulkhead-gateway');
    expect(gw.initContainers?.map((c) => [c.name, c.restartPolicy])).toEqual([
      ['config-agent', 'Always'],
    ]);
    const shared = (c: Container) =>
      c.volumeMounts?.find((m) => m.mountPath === '/var/run/bulkhead')?.name;
    const volume = shared(containerOf('bulkhead-gateway', 'config-agent'));
    expect(volume).toBeDefined();
    expect(shared(containerOf('bulkhead-gateway', 'gateway'))).toBe(volume);
    expect(gw.volumes?.find((v) => v.name === volume)?.emptyDir).toBeDefined();
    expect(env('bulkhead-gateway', 'config-agent')).toMatchObject({
      CONTROL_PLANE_ADDRESS: 'bulkhead-control-plane:7081',
      SNAPSHOT_SERVICES: 'orders,inventory',
    });
  });

  it('probes gRPC servers with gRPC health, others over HTTP', () => {
    const deployments = podsOf(objects).filter((p) => p.owner.kind === 'Deployment');
    expect(deployments.length).toBeGreaterThan(0);
    for (const { owner, spec } of deployments) {
      for (const c of containersOf(spec)) {
        const ports = Object.values(facts.deployables[c.name]?.ports ?? {});
        const grpc = ports.find((p) => p.protocol === 'grpc');
        const at = `${owner.metadata.name}/${c.name}`;
        if (grpc) expect(c.readinessProbe?.grpc, at).toEqual({ port: grpc.port });
        else expect(c.readinessProbe?.httpGet?.path, at).toBe('/readyz');
      }
    }
  });

  it("names each port once in its pod, and probes name their own container's ports", () => {
    // Kubernetes warns on a duplicate (services and probes that name it get the first one).
    for (const { owner, spec } of podsOf(objects)) {
      const names = containersOf(spec).flatMap((c) => (c.ports ?? []).map((p) => p.name));
      expect(new Set(names).size, `${owner.metadata.name}: ${names.join(', ')}`).toBe(names.length);
      for (const c of containersOf(spec)) {
        const own = (c.ports ?? []).map((p) => p.name);
        for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
          const port = probe?.httpGet?.port;
          if (typeof port === 'string')
            expect(own, `${owner.metadata.name}/${c.name}`).toContain(port);
        }
      }
    }
  });

  it('keeps secrets out of the rendered environment', () => {
    expect(env('bulkhead-control-plane', 'control-plane').CONTROL_PLANE_ADMIN_TOKEN).toBe(
      '<from secret>',
    );
    expect(env('bulkhead-gateway', 'gateway').BULKHEAD_REDIS_URL).toBe(
      'redis://:$(REDIS_PASSWORD)@bulkhead-redis:6379',
    );
  });

  it('lists exactly the manifest deployables in values and schema', () => {
    const schema = JSON.parse(readFileSync(path.join(CHART, 'values.schema.json'), 'utf8')) as {
      properties: { components: { properties: object; required: string[] } };
    };
    const names = Object.keys(facts.deployables).sort();
    expect(Object.keys(schema.properties.components.properties).sort()).toEqual(names);
    expect([...schema.properties.components.required].sort()).toEqual(names);
    const values = parseAllDocuments(
      readFileSync(path.join(CHART, 'values.yaml'), 'utf8'),
    )[0]?.toJS() as {
      components: Record<string, unknown>;
    };
    expect(Object.keys(values.components).sort()).toEqual(names);
  });

  it('has a current files/deployables.json', () => {
    const r = run(process.execPath, [
      path.join(ROOT, 'packages/manifest/dist/chart-facts.js'),
      'check',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('what make kind-up installs', () => {
  const render = (name: string) =>
    parse(template(helms[0]!.bin, cases.find((c) => c.name === name)!.valuesFiles).stdout);
  const shell = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

  it('offline: pulls no image, and each one it names is built by infra/images and loaded by infra/kind', () => {
    const containers = podsOf(render('kind-offline')).flatMap((p) => containersOf(p.spec));
    const local = containers.filter((c) => c.image?.startsWith('bulkhead-local/'));
    expect(local.filter((c) => c.imagePullPolicy !== 'Never').map((c) => c.name)).toEqual([]);
    const named = [...new Set(local.map((c) => c.image!))].sort();
    // infra/images/lib.sh's INFRA_IMAGE (what build.sh --offline builds) ...
    const images = shell('infra/images/lib.sh');
    const kafka = /^KAFKA_VERSION=(\S+)$/m.exec(images)![1]!;
    const built = [...images.matchAll(/^ {2}\[[a-z]+\]=(bulkhead-local\/\S+)$/gm)]
      .map((m) => m[1]!.replace('$KAFKA_VERSION', kafka))
      .sort();
    // ... and infra/kind/lib.sh's OFFLINE_INFRA_IMAGES (what up.sh kind-loads).
    const loaded = /^OFFLINE_INFRA_IMAGES=\(([^)]*)\)/m
      .exec(shell('infra/kind/lib.sh'))![1]!
      .split(/\s+/)
      .filter(Boolean)
      .sort();
    expect(named).toHaveLength(6);
    expect(built).toEqual(named);
    expect(loaded).toEqual(named);
  });

  it('runs Jaeger, the collector and Prometheus, and keeps every trace (tests/e2e/traces.test.ts)', () => {
    const pods = podsOf(render('kind'));
    const components = pods.map((p) => p.labels['app.kubernetes.io/component']);
    expect(components).toEqual(expect.arrayContaining(['jaeger', 'otel-collector', 'prometheus']));
    expect(components).not.toContain('grafana');
    const collector = containersOf(
      pods.find((p) => p.labels['app.kubernetes.io/component'] === 'otel-collector')!.spec,
    )[0]!;
    const env = Object.fromEntries((collector.env ?? []).map((e) => [e.name, e.value]));
    expect(env.OTELCOL_SAMPLING_PERCENTAGE).toBe('100');
  });
});

describe('bad values are refused with a clear error', () => {
  const helm = helms[0]!.bin;
  const refuse = (args: string[], message: RegExp) => {
    const r = template(helm, [], args);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
  };
  it.each([
    [['--set', 'unknown=1'], /additional properties 'unknown' not allowed/],
    [['--set', 'components.gateway.replica=2'], /additional properties 'replica' not allowed/],
    [['--set', 'components.billing.replicas=1'], /additional properties 'billing' not allowed/],
    [['--set', 'postgres.storage.sizes=1Gi'], /additional properties 'sizes' not allowed/],
    [['--set', 'cells[0].id=Cell_1'], /does not match pattern/],
    [['--set', 'components.orders.resources.requests.memory=lots'], /does not match pattern/],
    [['--set', 'components.gateway.service.nodePort=80'], /minimum/],
    [['--set', 'components.gateway.env.lower=1'], /lower/],
  ])('%j', (args, message) => refuse(args, message));

  it('a duplicate cell id', () =>
    refuse(
      ['--set-json', 'cells=[{"id":"cell-2"},{"id":"cell-2"}]'],
      /cells: id "cell-2" appears twice/,
    ));
  it('external PostgreSQL without a host', () =>
    refuse(['--set', 'postgres.deploy=false'], /postgres.host is required/));
  it('external Kafka without brokers', () =>
    refuse(['--set', 'kafka.deploy=false'], /kafka.brokers is required/));
  it('the longest release name and cell id still give names Kubernetes accepts', () => {
    const r = run(helm, [
      'template',
      'a-release-name-longer-than-twenty-characters',
      CHART,
      '--kube-version',
      KUBE_VERSION,
      '--set-json',
      `cells=[{"id":"${'c'.repeat(31)}"}]`,
    ]);
    expect(r.status).toBe(0);
    const names = parse(r.stdout).map((o) => o.metadata.name);
    expect(Math.max(...names.map((n) => n.length))).toBeLessThanOrEqual(63);
  });
});
