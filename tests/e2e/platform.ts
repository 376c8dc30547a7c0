/**
 * Where the end-to-end suite runs, and how it disturbs that platform: the local stack
 * (make test, make up) or the Helm release on kind (make kind-test sets
 * BULKHEAD_E2E_PLATFORM=kind, KUBECONFIG, BULKHEAD_KUBECTL and BULKHEAD_KUBE_NAMESPACE).
 * The tests state the invariants; this file only knows how to crash, stop and wait, and where
 * each process serves its metrics.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where the local stack registers its processes (infra/local/lib.sh: BULKHEAD_DATA_DIR or .data). */
const DATA_DIR = resolve(REPO_ROOT, process.env.BULKHEAD_DATA_DIR ?? '.data');

/** The platform's public URLs and the admin token (make kind-test sets them for kind). */
export const GATEWAY = process.env.BULKHEAD_GATEWAY_URL ?? 'http://127.0.0.1:8080';
export const CONTROL_PLANE = process.env.BULKHEAD_CONTROL_PLANE_URL ?? 'http://127.0.0.1:8081';
export const ADMIN_TOKEN = process.env.CONTROL_PLANE_ADMIN_TOKEN ?? 'dev-admin-token';
/** Jaeger's query API (make up starts Jaeger locally; kind: a port-forward to it). */
export const JAEGER = process.env.BULKHEAD_JAEGER_URL ?? 'http://127.0.0.1:16686';
/** Prometheus's HTTP API (make up starts it locally; kind: a port-forward to it). */
export const PROMETHEUS = process.env.BULKHEAD_PROMETHEUS_URL ?? 'http://127.0.0.1:9090';
const exec = promisify(execFile);

/** A process of the platform that serves GET /metrics, where Prometheus should scrape it. */
export interface MetricsTarget {
  /** For the test's messages: the launch plan's process name, or pod/container on kind. */
  name: string;
  /** The deployable (the target's `service` label). */
  service: string;
  /** The cell it runs in (the target's `cell` label), if any. */
  cell?: string;
  scrapeUrl: string;
  /** The other target labels that name this process: locally `instance`, on kind `pod`. */
  labels: Record<string, string>;
  /** Whether the suite can fetch scrapeUrl itself (a pod IP on kind is not for the host). */
  fetchable: boolean;
}

/** Something the suite does to the platform, with a name for the test's messages. */
export interface Disruption {
  name: string;
  run(): Promise<void>;
}

export interface Platform {
  name: 'local' | 'kind';
  /**
   * Rounds of crashes: each round's disruptions happen together, in the middle of a burst of
   * orders; the platform recovers before the next round.
   */
  crashRounds(): Promise<Disruption[][]>;
  /** Brings back (locally) or waits for (kind) everything crashed, until ready. */
  recover(): Promise<void>;
  /** Takes the control plane away entirely, and brings it back. */
  stopControlPlane(): Promise<void>;
  startControlPlane(): Promise<void>;
  /** Takes one cell's service away entirely (every instance), and brings it back. */
  stopCellService(service: 'orders' | 'inventory' | 'payments', cell: string): Promise<void>;
  startCellService(service: 'orders' | 'inventory' | 'payments', cell: string): Promise<void>;
  /** Every process running now that Prometheus should scrape. */
  metricsTargets(): Promise<MetricsTarget[]>;
}

/**
 * What services.sh starts, read from the launch plan: each process, and the port its metrics are
 * on (its ops port, or the probe port of a deployable without one).
 */
async function plannedTargets(): Promise<MetricsTarget[]> {
  const plan = resolve(REPO_ROOT, 'packages/manifest/dist/local-plan.js');
  const cells = process.env.BULKHEAD_CELL_COUNT ?? '2';
  const { stdout } = await exec(process.execPath, [
    plan,
    'start',
    '--cells',
    cells,
    '--data-dir',
    '/unused',
  ]);
  const lines = stdout
    .trim()
    .split('\n')
    .map((line) => line.split('\t'));
  const probePort = new Map(
    lines.filter(([step]) => step === 'wait').map(([, name, url]) => [name, new URL(url!).port]),
  );
  return lines
    .filter(([step]) => step === 'start')
    .map(([, name, service, ports, ...env]) => {
      const ops = /(?:^| )ops:(\d+)/.exec(ports!)?.[1];
      const cell = env.find((v) => v.startsWith('CELL_ID='))?.slice('CELL_ID='.length);
      return {
        name: name!,
        service: service!,
        ...(cell ? { cell } : {}),
        scrapeUrl: `http://127.0.0.1:${ops ?? probePort.get(name!)}/metrics`,
        labels: { instance: name! },
        fetchable: true,
      };
    });
}

/** The parts of a pod that say where its processes serve metrics. */
interface KubePod {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec: {
    containers: KubeContainer[];
    initContainers?: KubeContainer[];
  };
  status: { phase: string; podIP?: string };
}
interface KubeContainer {
  name: string;
  ports?: { name?: string; containerPort: number }[];
}

function local(): Platform {
  const services = `${REPO_ROOT}/infra/local/services.sh`;
  const pidOf = (name: string) =>
    Number(readFileSync(`${DATA_DIR}/run/${name}.pid`, 'utf8').trim());
  const signal = (name: string, sig: NodeJS.Signals): Disruption => ({
    name: `${sig} ${name}`,
    run: () => {
      process.kill(pidOf(name), sig);
      return Promise.resolve();
    },
  });
  // services.sh start starts what is not running and waits until it is ready.
  const startAll = async () => {
    await exec('bash', [services, 'start']);
  };
  return {
    name: 'local',
    crashRounds: () =>
      Promise.resolve([
        [signal('inventory-cell-1', 'SIGKILL'), signal('orders-cell-2', 'SIGKILL')],
      ]),
    recover: startAll,
    stopControlPlane: () => signal('control-plane', 'SIGTERM').run(),
    startControlPlane: startAll,
    stopCellService: async (service, cell) => {
      const pid = pidOf(`${service}-${cell}`);
      process.kill(pid, 'SIGTERM');
      // Gone once signal 0 fails: the process drained and exited.
      for (const until = Date.now() + 30_000; Date.now() < until;) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`${service}-${cell} did not stop within 30 s`);
    },
    startCellService: startAll,
    metricsTargets: plannedTargets,
  };
}

function kind(): Platform {
  const kubectlBin = process.env.BULKHEAD_KUBECTL ?? 'kubectl';
  const namespace = process.env.BULKHEAD_KUBE_NAMESPACE ?? 'bulkhead';
  const kubectl = async (...args: string[]): Promise<string> =>
    (await exec(kubectlBin, ['--namespace', namespace, ...args], { timeout: 300_000 })).stdout;
  const lines = (text: string) => text.split('\n').filter(Boolean);

  /** Every Deployment and StatefulSet of the platform, as deployment/x or statefulset/y. */
  const workloads = async () =>
    lines(
      await kubectl(
        'get',
        'deployments,statefulsets',
        '-l',
        'app.kubernetes.io/part-of=bulkhead',
        '-o',
        'name',
      ),
    ).map((name) => name.replace(/^(deployment|statefulset)\.apps\//, '$1/'));
  const waitReady = async (workload: string) => {
    await kubectl('rollout', 'status', workload, '--timeout=240s');
  };
  const deleteOnePod = (workload: string): Disruption => ({
    name: `kubectl delete pod (one of ${workload})`,
    run: async () => {
      const selector = JSON.parse(
        await kubectl('get', workload, '-o', 'jsonpath={.spec.selector.matchLabels}'),
      ) as Record<string, string>;
      const labels = Object.entries(selector)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const [pod] = lines(await kubectl('get', 'pods', '-l', labels, '-o', 'name'));
      if (!pod) throw new Error(`${workload} has no pod to delete`);
      // Graceful, like a node drain or a rollout: SIGTERM, then the grace period.
      await kubectl('delete', pod, '--wait=true', '--timeout=120s');
    },
  });

  /** Scales a Deployment to 0 and waits for its pods to be gone; returns its replicas before. */
  const scaleToZero = async (deployment: string, selector: string): Promise<string> => {
    const replicas = (await kubectl('get', deployment, '-o', 'jsonpath={.spec.replicas}')).trim();
    await kubectl('scale', deployment, '--replicas=0');
    try {
      await kubectl('wait', '--for=delete', 'pod', '-l', selector, '--timeout=120s');
    } catch (error) {
      // Already gone before the wait began.
      if (!/no matching resources/.test(String((error as { stderr?: string }).stderr))) {
        throw error;
      }
    }
    return replicas;
  };
  const cellReplicas = new Map<string, string>();

  const controlPlane = 'deployment/bulkhead-control-plane';
  let controlPlaneReplicas = '1';
  return {
    name: 'kind',
    crashRounds: async () => (await workloads()).map((w) => [deleteOnePod(w)]),
    recover: async () => {
      for (const w of await workloads()) await waitReady(w);
    },
    stopControlPlane: async () => {
      controlPlaneReplicas = await scaleToZero(
        controlPlane,
        'app.kubernetes.io/component=control-plane',
      );
    },
    startControlPlane: async () => {
      await kubectl('scale', controlPlane, `--replicas=${controlPlaneReplicas}`);
      await waitReady(controlPlane);
    },
    stopCellService: async (service, cell) => {
      const deployment = `deployment/bulkhead-${cell}-${service}`;
      const selector = `app.kubernetes.io/component=${service},bulkhead/cell=${cell}`;
      cellReplicas.set(deployment, await scaleToZero(deployment, selector));
    },
    startCellService: async (service, cell) => {
      const deployment = `deployment/bulkhead-${cell}-${service}`;
      await kubectl('scale', deployment, `--replicas=${cellReplicas.get(deployment) ?? '1'}`);
      await waitReady(deployment);
    },
    // What the chart's Prometheus keeps (templates/observability/_observability.tpl): each
    // container port named ops or sidecar-ops (the config agent's) of the release's running pods
    // annotated prometheus.io/scrape=true.
    metricsTargets: async () => {
      const { items } = JSON.parse(
        await kubectl('get', 'pods', '-l', 'app.kubernetes.io/instance=bulkhead', '-o', 'json'),
      ) as { items: KubePod[] };
      return items
        .filter(
          (pod) =>
            pod.status.phase === 'Running' &&
            pod.status.podIP &&
            !pod.metadata.deletionTimestamp &&
            pod.metadata.annotations?.['prometheus.io/scrape'] === 'true',
        )
        .flatMap((pod) => {
          const cell = pod.metadata.labels?.['bulkhead/cell'];
          return [...(pod.spec.initContainers ?? []), ...pod.spec.containers].flatMap((c) =>
            (c.ports ?? [])
              .filter((port) => port.name === 'ops' || port.name === 'sidecar-ops')
              .map((port) => ({
                name: `${pod.metadata.name}/${c.name}`,
                service: c.name,
                ...(cell ? { cell } : {}),
                scrapeUrl: `http://${pod.status.podIP}:${port.containerPort}/metrics`,
                labels: { pod: pod.metadata.name },
                fetchable: false,
              })),
          );
        });
    },
  };
}

export const platform: Platform = process.env.BULKHEAD_E2E_PLATFORM === 'kind' ? kind() : local();

/**
 * Waits until an API key works at every gateway replica behind `gatewayUrl`: ten answers in a
 * row that are not 401, each on a new connection (a kept-alive connection would ask one replica
 * only; a NodePort or Service picks a replica per connection). Returns how long it took.
 */
export async function untilKeyWorksEverywhere(
  gatewayUrl: string,
  apiKey: string,
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  const status = () =>
    new Promise<number>((resolve, reject) => {
      const req = http.get(
        `${gatewayUrl}/v1/products/none`,
        { agent: false, headers: { authorization: `Bearer ${apiKey}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
    });
  for (let inARow = 0; inARow < 10;) {
    const code = await status().catch(() => 401);
    inARow = code === 401 ? 0 : inARow + 1;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`the key did not reach every gateway replica within ${timeoutMs} ms`);
    }
    if (inARow === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - started;
}

/** Polls fn every 50 ms until it returns something other than undefined, for up to timeoutMs. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
