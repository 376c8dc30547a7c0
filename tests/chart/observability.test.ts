/**
 * The chart's optional observability backends (values.observability, templates/observability/):
 * what the render matrix in chart.test.ts does not show by itself. With every backend on, every
 * Bulkhead process exports spans to the collector, Prometheus's own config and discovery keep
 * exactly the ops port of every Bulkhead container (its relabelling run here over the rendered
 * pods), the rules and dashboards ConfigMaps hold every file of the chart (with none, and with the
 * fixtures of tests/chart/fixtures added to a copy of the chart), Grafana provisions every
 * datasource the dashboards name, and each single-source config has every placeholder set.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  BIN,
  CHART,
  NAMESPACE,
  RELEASE,
  ROOT,
  containersOf,
  facts,
  parse,
  podsOf,
  run,
  selects,
  template,
  type Container,
  type K8sObject,
  type Labels,
  type Pod,
} from './chart-kit.js';

const HELM = path.join(BIN, 'helm');
const FIXTURES = path.join(ROOT, 'tests/chart/fixtures');
const ALL_ON = path.join(CHART, 'examples/observability/values.yaml');
const RULES = 'files/prometheus/rules';
const DASHBOARDS = 'files/dashboards';

// --- charts to render: the real one, one without rules and dashboards, one with the fixtures ---

const scratch = mkdtempSync(path.join(tmpdir(), 'bulkhead-chart-obs-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the chart, its rules and dashboards replaced by `extra` (or removed). */
function chartCopy(name: string, extra: { rules: boolean; dashboards: boolean }): string {
  const dir = path.join(scratch, name);
  cpSync(CHART, dir, { recursive: true });
  for (const [folder, add] of [
    [RULES, extra.rules],
    [DASHBOARDS, extra.dashboards],
  ] as const) {
    if (!add) rmSync(path.join(dir, folder), { recursive: true, force: true });
    else
      cpSync(
        path.join(FIXTURES, folder === RULES ? 'rules' : 'dashboards'),
        path.join(dir, folder),
        {
          recursive: true,
        },
      );
  }
  return dir;
}

function render(valuesFiles: string[], chart = CHART, extra: string[] = []): K8sObject[] {
  const r = template(HELM, valuesFiles, extra, chart);
  if (r.status !== 0) throw new Error(r.stderr);
  return parse(r.stdout);
}

const filesOf = (dir: string, ext: string): Record<string, string> =>
  existsSync(dir)
    ? Object.fromEntries(
        readdirSync(dir)
          .filter((f) => f.endsWith(ext))
          .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
      )
    : {};

const named = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name}`);
  return o;
};
const podOf = (objects: K8sObject[], owner: string): Pod => {
  const pod = podsOf(objects).find((p) => p.owner.metadata.name === owner);
  if (!pod) throw new Error(`no workload ${owner}`);
  return pod;
};
const envOf = (c: Container): Labels =>
  Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? '<from a reference>']));

/** The pods of Bulkhead's own deployables (not the infrastructure, not the backends). */
const bulkheadPods = (objects: K8sObject[]): Pod[] =>
  podsOf(objects).filter(
    (p) => (p.labels['app.kubernetes.io/component'] ?? '') in facts.deployables,
  );

// --- Prometheus's relabelling, as Prometheus applies it to discovered targets --------------

interface RelabelConfig {
  source_labels?: string[];
  separator?: string;
  regex?: string;
  target_label?: string;
  replacement?: string;
  action?: 'replace' | 'keep' | 'drop';
}

/** One relabelling pass (replace, keep, drop: the actions the chart uses); null: dropped. */
function relabel(labels: Labels, configs: RelabelConfig[]): Labels | null {
  const out = { ...labels };
  for (const c of configs) {
    const value = (c.source_labels ?? []).map((l) => out[l] ?? '').join(c.separator ?? ';');
    const re = new RegExp(`^(?:${c.regex ?? '(.*)'})$`);
    const m = re.exec(value);
    const action = c.action ?? 'replace';
    if (action === 'keep' && !m) return null;
    if (action === 'drop' && m) return null;
    if (action === 'replace' && m && c.target_label) {
      const v = (c.replacement ?? '$1').replace(/\$\{?(\d+)\}?/g, (_a, i: string) => m[+i] ?? '');
      if (v === '') delete out[c.target_label];
      else out[c.target_label] = v;
    }
  }
  return out;
}

const metaName = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, '_');

/** What Kubernetes pod discovery gives for each container port of a rendered pod (running). */
function discoveredTargets(objects: K8sObject[]): Labels[] {
  return podsOf(objects).flatMap((pod) => {
    const meta: Labels = {
      __meta_kubernetes_namespace: NAMESPACE,
      __meta_kubernetes_pod_name: `${pod.owner.metadata.name}-0`,
      __meta_kubernetes_pod_phase: 'Running',
    };
    for (const [k, v] of Object.entries(pod.labels))
      meta[`__meta_kubernetes_pod_label_${metaName(k)}`] = v;
    for (const [k, v] of Object.entries(pod.owner.spec?.template?.metadata.annotations ?? {}))
      meta[`__meta_kubernetes_pod_annotation_${metaName(k)}`] = v;
    return containersOf(pod.spec).flatMap((c) =>
      (c.ports ?? []).map((p) => ({
        ...meta,
        __address__: `10.0.0.1:${p.containerPort}`,
        __meta_kubernetes_pod_container_name: c.name,
        __meta_kubernetes_pod_container_port_name: p.name ?? '',
        __meta_kubernetes_pod_container_port_number: String(p.containerPort),
      })),
    );
  });
}

interface ScrapeConfig {
  job_name: string;
  honor_labels?: boolean;
  kubernetes_sd_configs: {
    role: string;
    namespaces: { names: string[] };
    selectors?: { role: string; label: string }[];
  }[];
  relabel_configs: RelabelConfig[];
}

// --- the checks -----------------------------------------------------------------------------

describe('observability: everything on', () => {
  const objects = render([ALL_ON]);

  it('points every Bulkhead process at the collector, through a Service and an allow', () => {
    const collector = named(objects, 'Service', `${RELEASE}-otel-collector`);
    const port = collector.spec?.ports?.find((p) => p.port === 4317);
    expect(port).toBeDefined();
    const collectorPod = podOf(objects, `${RELEASE}-otel-collector`);
    expect(
      containersOf(collectorPod.spec)
        .flatMap((c) => c.ports ?? [])
        .find((p) => p.name === port!.targetPort)?.containerPort,
    ).toBe(4317);
    const allow = named(objects, 'NetworkPolicy', `${RELEASE}-otel-collector`);
    const pods = bulkheadPods(objects);
    expect(pods.length).toBe(2 + 2 * facts.cellServices.length);
    for (const pod of pods) {
      for (const c of containersOf(pod.spec)) {
        const at = `${pod.owner.metadata.name}/${c.name}`;
        const env = envOf(c);
        expect(env.OTEL_EXPORTER_OTLP_ENDPOINT, at).toBe(`http://${RELEASE}-otel-collector:4317`);
        expect(env.OTEL_SERVICE_NAME, at).toBe(c.name);
        const cell = pod.labels['bulkhead/cell'];
        if (cell) expect(env.OTEL_RESOURCE_ATTRIBUTES, at).toContain(`bulkhead.cell=${cell}`);
        else expect(env.OTEL_RESOURCE_ATTRIBUTES, at).not.toContain('bulkhead.cell');
      }
      const admitted = (allow.spec?.ingress ?? []).some(
        (rule) =>
          (rule.ports ?? []).some((p) => p.port === 4317) &&
          (rule.from ?? []).some((peer) => selects(peer.podSelector, pod.labels)),
      );
      expect(admitted, `${pod.owner.metadata.name} may reach the collector`).toBe(true);
    }
  });

  it("has Prometheus scrape exactly every Bulkhead container's ops port, labelled service and cell", () => {
    const config = parseYaml(
      named(objects, 'ConfigMap', `${RELEASE}-prometheus`).data!['prometheus.yml']!,
    ) as { scrape_configs: ScrapeConfig[]; rule_files: string[] };
    const [job, ...others] = config.scrape_configs;
    expect(others).toEqual([]);
    expect(job!.honor_labels).toBe(true);
    const [sd] = job!.kubernetes_sd_configs;
    expect(sd).toMatchObject({ role: 'pod', namespaces: { names: [NAMESPACE] } });
    const selector = sd!.selectors?.[0]?.label.split('=') ?? [];
    const kept = discoveredTargets(objects)
      .filter(
        (t) => t[`__meta_kubernetes_pod_label_${metaName(selector[0] ?? '')}`] === selector[1],
      )
      .map((t) => relabel(t, job!.relabel_configs))
      .filter((t): t is Labels => t !== null)
      .map((t) => `${t.pod} ${t.__address__} service=${t.service} cell=${t.cell ?? '-'}`)
      .sort();
    // Expected from the manifest alone: each deployable with an ops port, in each of its pods.
    const expected = Object.entries(facts.deployables)
      .flatMap(([name, d]) => {
        const ops = d.ports.ops;
        if (!ops) return [];
        const host = Object.entries(facts.deployables).find(([, h]) => h.sidecar === name)?.[0];
        const owner = host ?? name;
        const cells =
          facts.deployables[owner]!.kind === 'cell-service' ? ['cell-1', 'cell-2'] : [''];
        return cells.map(
          (cell) =>
            `${RELEASE}-${cell ? `${cell}-` : ''}${owner}-0 10.0.0.1:${ops.port} service=${name} cell=${cell || '-'}`,
        );
      })
      .sort();
    expect(kept).toEqual(expected);
    // And the NetworkPolicy lets Prometheus in on each of those ports.
    const prometheusPod = podOf(objects, `${RELEASE}-prometheus`);
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    for (const pod of bulkheadPods(objects)) {
      for (const port of containersOf(pod.spec).flatMap((c) => c.ports ?? [])) {
        if (port.name !== 'ops' && port.name !== 'sidecar-ops') continue;
        const allowed = policies.some(
          (np) =>
            selects(np.spec?.podSelector, pod.labels) &&
            (np.spec?.ingress ?? []).some(
              (rule) =>
                (rule.ports ?? []).some((p) => p.port === port.containerPort) &&
                (rule.from ?? []).some((peer) => selects(peer.podSelector, prometheusPod.labels)),
            ),
        );
        expect(allowed, `${pod.owner.metadata.name}:${port.containerPort}`).toBe(true);
      }
    }
  });

  it('passes promtool check config', () => {
    const dir = mkdtempSync(path.join(scratch, 'promtool-'));
    const file = path.join(dir, 'prometheus.yml');
    writeFileSync(
      file,
      named(objects, 'ConfigMap', `${RELEASE}-prometheus`).data!['prometheus.yml']!,
    );
    const r = run(path.join(BIN, 'promtool'), ['check', 'config', '--syntax-only', file]);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });

  it.each([
    ['otel-collector', 'otel-collector.yaml', 'otelcol-bulkhead'],
    ['jaeger', 'jaeger.yaml', 'jaeger'],
  ])(
    "mounts files/observability/%s with every ${env:…} placeholder set, valid with the chart's values",
    (part, file, tool) => {
      const source = readFileSync(path.join(CHART, 'files/observability', file), 'utf8');
      const mounted = named(objects, 'ConfigMap', `${RELEASE}-${part}`).data![file];
      expect(mounted).toBe(source);
      const placeholders = [...source.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g)].map(
        (m) => m[1]!,
      );
      expect(placeholders.length).toBeGreaterThan(0);
      const env = envOf(containersOf(podOf(objects, `${RELEASE}-${part}`).spec)[0]!);
      expect(placeholders.filter((p) => !(p in env))).toEqual([]);
      // The same binary the local stack runs (the same release as the image) accepts the config
      // with the env the container gets.
      const dir = mkdtempSync(path.join(scratch, `${part}-`));
      writeFileSync(path.join(dir, file), mounted!);
      const r = run(path.join(BIN, tool), ['validate', '--config', path.join(dir, file)], {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        ...env,
      });
      expect(r.stderr + r.stdout, `${tool} validate`).not.toMatch(/error/i);
      expect(r.status).toBe(0);
    },
  );
});

describe('observability: rules and dashboards from the chart', () => {
  const variants = [
    { name: 'the chart as it is', chart: CHART },
    {
      name: 'no rules and no dashboards',
      chart: chartCopy('none', { rules: false, dashboards: false }),
    },
    { name: 'the fixtures added', chart: chartCopy('fixtures', { rules: true, dashboards: true }) },
  ];

  describe.each(variants)('$name', ({ chart }) => {
    const objects = render([ALL_ON], chart);
    const rules = filesOf(path.join(chart, RULES), '.yml');
    const dashboards = filesOf(path.join(chart, DASHBOARDS), '.json');

    it('provisions every rules file', () => {
      const data = named(objects, 'ConfigMap', `${RELEASE}-prometheus-rules`).data ?? {};
      expect(data).toEqual(rules);
      const pod = podOf(objects, `${RELEASE}-prometheus`);
      const mount = pod.spec.containers[0]!.volumeMounts?.find((m) => m.name === 'rules');
      const config = parseYaml(
        named(objects, 'ConfigMap', `${RELEASE}-prometheus`).data!['prometheus.yml']!,
      ) as { rule_files: string[] };
      expect(config.rule_files).toEqual([`${mount!.mountPath}/*.yml`]);
    });

    it('provisions every dashboard, and every datasource the dashboards name', () => {
      const data = named(objects, 'ConfigMap', `${RELEASE}-grafana-dashboards`).data ?? {};
      expect(data).toEqual(dashboards);
      const provisioning = named(objects, 'ConfigMap', `${RELEASE}-grafana`).data!;
      const datasources = (
        parseYaml(provisioning['datasources.yaml']!) as {
          datasources: { uid: string; type: string }[];
        }
      ).datasources;
      expect(datasources.map((d) => d.uid).sort()).toEqual(['jaeger', 'prometheus']);
      const used = new Set<string>();
      const walk = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node && typeof node === 'object') {
          for (const [k, v] of Object.entries(node)) {
            if (k === 'datasource' && v && typeof v === 'object' && 'uid' in v)
              used.add(`${(v as { type: string }).type}/${(v as { uid: string }).uid}`);
            walk(v);
          }
        }
      };
      for (const json of Object.values(dashboards)) walk(JSON.parse(json));
      if (Object.keys(dashboards).length > 0) expect(used.size).toBeGreaterThan(0);
      const provisioned = new Set(datasources.map((d) => `${d.type}/${d.uid}`));
      expect([...used].filter((u) => !provisioned.has(u))).toEqual([]);
      // The file provider reads the folder the dashboards ConfigMap is mounted at.
      const provider = (
        parseYaml(provisioning['dashboards.yaml']!) as {
          providers: { options: { path: string } }[];
        }
      ).providers[0]!;
      const pod = podOf(objects, `${RELEASE}-grafana`);
      const mount = pod.spec.containers[0]!.volumeMounts?.find((m) => m.name === 'dashboards');
      expect(provider.options.path).toBe(mount!.mountPath);
      // Grafana reads <GF_PATHS_PROVISIONING>/datasources and /dashboards.
      const grafana = pod.spec.containers[0]!;
      const root = grafana.volumeMounts?.find((m) => m.name === 'provisioning')?.mountPath;
      expect(envOf(grafana).GF_PATHS_PROVISIONING).toBe(root);
      const volume = pod.spec.volumes?.find((v) => v.name === 'provisioning') as
        { configMap?: { items?: { key: string; path: string }[] } } | undefined;
      expect(volume?.configMap?.items?.map((i) => `${i.key} ${path.dirname(i.path)}`)).toEqual([
        'datasources.yaml datasources',
        'dashboards.yaml dashboards',
      ]);
    });
  });
});

describe('observability: partly on, or off', () => {
  it('sends spans straight to Jaeger when only Jaeger runs', () => {
    const objects = render([path.join(CHART, 'examples/jaeger-only/values.yaml')]);
    for (const pod of bulkheadPods(objects))
      for (const c of containersOf(pod.spec))
        expect(envOf(c).OTEL_EXPORTER_OTLP_ENDPOINT).toBe(`http://${RELEASE}-jaeger:4317`);
    const allow = named(objects, 'NetworkPolicy', `${RELEASE}-jaeger`);
    const otlp = allow.spec?.ingress?.find((r) => r.ports?.some((p) => p.port === 4317));
    for (const pod of bulkheadPods(objects))
      expect((otlp?.from ?? []).some((peer) => selects(peer.podSelector, pod.labels))).toBe(true);
  });

  it('exports nothing and renders no backend by default', () => {
    const objects = render([]);
    for (const pod of bulkheadPods(objects))
      for (const c of containersOf(pod.spec))
        expect(envOf(c).OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    const backends = objects.filter((o) =>
      ['jaeger', 'otel-collector', 'prometheus', 'grafana'].includes(
        o.metadata.labels?.['app.kubernetes.io/component'] ?? '',
      ),
    );
    expect(backends).toEqual([]);
  });

  const refuse = (args: string[], message: RegExp) => {
    const r = template(HELM, [], args);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
  };
  it.each([
    [
      ['--set', 'observability.collector.enabled=true'],
      /collector.enabled needs observability.jaeger.enabled/,
    ],
    [
      ['--set', 'observability.grafana.enabled=true'],
      /grafana.enabled needs observability.prometheus.enabled/,
    ],
    [
      ['--set', 'observability.jaeger.retention=1d'],
      /additional properties 'retention' not allowed/,
    ],
    [['--set', 'observability.prometheus.retention.time=forever'], /does not match pattern/],
    [['--set', 'observability.collector.sampling.percentage=150'], /maximum/],
    [
      ['-f', ALL_ON, '--set', 'observability.collector.resources.limits.memory=512M'],
      /memory limit "512M": give it in Mi or Gi/,
    ],
  ])('refuses %j', (args, message) => refuse(args, message));
});
