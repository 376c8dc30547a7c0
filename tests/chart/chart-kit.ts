/**
 * What the chart tests share: the paths and tools, `helm template`, the rendered objects' shape,
 * the manifest's facts and the pod helpers.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHART = path.join(ROOT, 'charts/bulkhead');
export const BIN = path.join(ROOT, '.tools/bin');
export const KUBE_VERSION = '1.34.4';
export const SCHEMAS = path.join(ROOT, '.tools/kube-schemas');
export const UPDATE = process.env.BULKHEAD_UPDATE_RENDERED === '1';
export const RELEASE = 'bulkhead';
export const NAMESPACE = 'bulkhead';

// --- running the tools ---------------------------------------------------------------------

export function run(
  bin: string,
  args: string[],
  env?: Record<string, string>,
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export function template(
  helm: string,
  valuesFiles: string[],
  extra: string[] = [],
  chart: string = CHART,
) {
  return run(helm, [
    'template',
    RELEASE,
    chart,
    '--namespace',
    NAMESPACE,
    '--kube-version',
    KUBE_VERSION,
    ...valuesFiles.flatMap((f) => ['-f', f]),
    ...extra,
  ]);
}

export type Labels = Record<string, string>;
export interface Probe {
  grpc?: { port: number };
  httpGet?: { path: string; port: string | number };
}
export interface Container {
  name: string;
  image?: string;
  imagePullPolicy?: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  resources?: { requests?: Labels; limits?: Labels };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    seccompProfile?: { type: string };
  };
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  restartPolicy?: string;
  volumeMounts?: { name: string; mountPath: string }[];
}
export interface PodSpec {
  initContainers?: Container[];
  containers: Container[];
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  securityContext?: { runAsNonRoot?: boolean; seccompProfile?: { type: string } };
  volumes?: { name: string; emptyDir?: object }[];
  topologySpreadConstraints?: unknown[];
}
/** The parts of a rendered object that the checks read (every kind in one shape). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Labels };
  spec?: {
    template?: { metadata: { labels: Labels; annotations?: Labels }; spec: PodSpec };
    /** A Service's selector is labels; a PDB's holds matchLabels. */
    selector?: Labels & { matchLabels?: never };
    podSelector?: LabelSelector;
    policyTypes?: string[];
    ingress?: { ports?: { port: number }[]; from?: { podSelector?: LabelSelector }[] }[];
    ports?: { name: string; port: number; targetPort: string | number }[];
  };
  /** ConfigMap */
  data?: Record<string, string>;
  /** ServiceAccount */
  automountServiceAccountToken?: boolean;
  /** Role, RoleBinding */
  rules?: { apiGroups?: string[]; resources?: string[]; verbs: string[] }[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}
export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Whether a label selector (matchLabels and In/NotIn/Exists expressions) selects these labels. */
export function selects(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return false;
  return (
    matches(selector.matchLabels, labels) &&
    (selector.matchExpressions ?? []).every((e) => {
      const v = labels[e.key];
      if (e.operator === 'In') return v !== undefined && (e.values ?? []).includes(v);
      if (e.operator === 'NotIn') return v === undefined || !(e.values ?? []).includes(v);
      if (e.operator === 'Exists') return v !== undefined;
      return v === undefined; // DoesNotExist
    })
  );
}

export const containersOf = (pod: PodSpec): Container[] => [
  ...(pod.initContainers ?? []),
  ...pod.containers,
];
export const pdbSelector = (o: K8sObject) =>
  (o.spec?.selector as unknown as { matchLabels: Labels }).matchLabels;

export function parse(rendered: string): K8sObject[] {
  return parseAllDocuments(rendered)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`invalid YAML: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** files/deployables.json: the manifest as the chart reads it (packages/manifest/src/chart.ts). */
export const facts = JSON.parse(
  readFileSync(path.join(CHART, 'files/deployables.json'), 'utf8'),
) as {
  deployables: Record<
    string,
    {
      kind: string;
      ports: Record<string, { port: number; protocol: string }>;
      callers: Record<string, string[]>;
      sidecar?: string;
    }
  >;
  cellServices: string[];
};

export interface Pod {
  owner: K8sObject;
  labels: Labels;
  spec: PodSpec;
}

export function podsOf(objects: K8sObject[]): Pod[] {
  return objects.flatMap((o) =>
    (o.kind === 'Deployment' || o.kind === 'StatefulSet') && o.spec?.template
      ? [{ owner: o, labels: o.spec.template.metadata.labels, spec: o.spec.template.spec }]
      : [],
  );
}

export const matches = (selector: Labels = {}, labels: Labels = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
