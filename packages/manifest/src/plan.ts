/**
 * The local launch plan, rendered from the manifest for infra/local/services.sh (through the
 * CLI in local-plan.ts):
 *
 *   node dist/local-plan.js start --cells 2 --data-dir .data   what to start, in order, and wait for
 *   node dist/local-plan.js stop                               process-name patterns, in stop order
 *   node dist/local-plan.js urls                               the public URLs as VAR=value lines
 *   node dist/local-plan.js scrape-targets --cells 2           Prometheus's file_sd targets (JSON)
 *
 * `start` prints tab-separated lines:
 *   start <process> <services/ folder> <ports for `make status`> <VAR=value>...
 *   wait  <process> <readiness URL> <timeout in seconds>
 * Each port can be overridden with BULKHEAD_<DEPLOYABLE>_<PORT>_PORT (e.g. BULKHEAD_GATEWAY_HTTP_PORT);
 * for a cell service it sets cell-1's port and cell n adds 10 × (n − 1).
 * One cell's services can reach PostgreSQL and Kafka by other addresses than the rest (make chaos
 * routes cell-1 through toxiproxy): BULKHEAD_CELL_<n>_PG_URL and BULKHEAD_CELL_<n>_KAFKA_BROKERS
 * become that cell's BULKHEAD_PG_URL and BULKHEAD_KAFKA_BROKERS.
 * Every process is told who it is for its spans: OTEL_SERVICE_NAME (the deployable) and
 * OTEL_RESOURCE_ATTRIBUTES (service.instance.id, the process name; bulkhead.cell, its cell).
 */
import {
  CELL_PORT_STRIDE,
  cellServices,
  deployableNames,
  deployables,
  type DeployableName,
  type DeployableSpec,
} from './index.js';

const HOST = '127.0.0.1';
export type Env = Record<string, string | undefined>;

/** A bad argument or override: reported as a clear message, not a stack trace. */
export class PlanError extends Error {}

function overrideVariable(name: string, port: string): string {
  return `BULKHEAD_${name.replaceAll('-', '_').toUpperCase()}_${port.toUpperCase()}_PORT`;
}

/** The ports of one deployable (of cell n for a cell service), overrides applied. */
export function portsOf(name: DeployableName, env: Env, cell = 1): Record<string, number> {
  const spec: DeployableSpec = deployables[name];
  const ports: Record<string, number> = {};
  for (const [portName, port] of Object.entries(spec.ports)) {
    const variable = overrideVariable(name, portName);
    const raw = env[variable];
    const base = raw === undefined || raw === '' ? port.port : Number(raw);
    const value = base + (spec.kind === 'cell-service' ? CELL_PORT_STRIDE * (cell - 1) : 0);
    if (!Number.isInteger(base) || value < 1 || value > 65_535) {
      throw new PlanError(`${variable} must be a port number (got ${JSON.stringify(raw)})`);
    }
    ports[portName] = value;
  }
  return ports;
}

/** A cell's own infrastructure addresses, when it has any (BULKHEAD_CELL_<n>_*). */
function cellInfraEnv(env: Env, cell: number): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const name of ['PG_URL', 'KAFKA_BROKERS']) {
    const value = env[`BULKHEAD_CELL_${cell}_${name}`];
    if (value === undefined || value === '') continue;
    if (/[\t\n]/.test(value))
      throw new PlanError(`BULKHEAD_CELL_${cell}_${name} has a tab or newline`);
    vars[`BULKHEAD_${name}`] = value;
  }
  return vars;
}

const processName = (name: DeployableName, cell?: number) =>
  cell === undefined ? name : `${name}-cell-${cell}`;

interface Process {
  name: string;
  deployable: DeployableName;
  cell?: number;
  ports: Record<string, number>;
  env: Record<string, string>;
}

/** The resource of a process's spans, as the OpenTelemetry SDK reads it from the environment. */
function telemetryEnv(p: Process): Record<string, string> {
  const attributes = [`service.instance.id=${p.name}`];
  if (p.cell !== undefined) attributes.push(`bulkhead.cell=cell-${p.cell}`);
  return { OTEL_SERVICE_NAME: p.deployable, OTEL_RESOURCE_ATTRIBUTES: attributes.join(',') };
}

/**
 * The port Prometheus scrapes GET /metrics on: the ops port, or the probe port of a deployable
 * that has none.
 */
export function metricsPortOf(spec: DeployableSpec): string {
  return 'ops' in spec.ports ? 'ops' : spec.probePort;
}

const cellRange = (cells: number) => Array.from({ length: cells }, (_, i) => i + 1);

function startPlan(cells: number, dataDir: string, env: Env): string[] {
  const lines: string[] = [];
  const started = new Map<DeployableName, Process>();
  const snapshotPath = (host: string) => `${dataDir}/config/${host}/routing-snapshot.json`;
  const cellIds = cellRange(cells);
  const readyUrl = (p: Process) =>
    `http://${HOST}:${p.ports[deployables[p.deployable].probePort]}/readyz`;

  const emit = (p: Process) => {
    const ports = Object.entries(p.ports).map(([label, port]) => `${label}:${port}`);
    const vars = Object.entries({ ...telemetryEnv(p), ...p.env }).map(([k, v]) => `${k}=${v}`);
    lines.push(['start', p.name, p.deployable, ports.join(' '), ...vars].join('\t'));
  };
  const portEnv = (spec: DeployableSpec, ports: Record<string, number>) =>
    Object.fromEntries(Object.entries(spec.ports).map(([n, port]) => [port.env, String(ports[n])]));

  const waitAtEnd: Process[] = [];
  const waited = new Set<string>();
  const wait = (p: Process) => {
    if (waited.has(p.name)) return;
    waited.add(p.name);
    // A cell service migrates its database and creates topics first: give it longer.
    const timeoutS = deployables[p.deployable].kind === 'cell-service' ? 90 : 60;
    lines.push(['wait', p.name, readyUrl(p), String(timeoutS)].join('\t'));
  };
  for (const name of deployableNames) {
    const spec: DeployableSpec = deployables[name];
    if (spec.kind === 'cell-service') {
      if (name !== cellServices[0]) continue; // all of a cell's services start together, cell by cell
      for (const cell of cellIds) {
        for (const service of cellServices) {
          const ports = portsOf(service, env, cell);
          const p: Process = {
            name: processName(service, cell),
            deployable: service,
            cell,
            ports,
            env: {
              CELL_ID: `cell-${cell}`,
              ...portEnv(deployables[service], ports),
              ...cellInfraEnv(env, cell),
            },
          };
          emit(p);
          waitAtEnd.push(p);
        }
      }
      continue;
    }
    const ports = portsOf(name, env);
    const vars: Record<string, string> = portEnv(spec, ports);
    for (const call of spec.calls) {
      if (!('env' in call)) continue;
      const target = started.get(call.to as DeployableName);
      if (!target) throw new PlanError(`${name} calls ${call.to}, which is not started before it`);
      // Configured callees are ready first: a sidecar starting against a live control plane
      // does not begin with reconnect warnings.
      wait(target);
      vars[call.env] = `${HOST}:${target.ports[call.port]}`;
    }
    if (spec.kind === 'control-plane') {
      vars.BULKHEAD_CELLS = JSON.stringify(
        cellIds.map((cell) => ({
          id: `cell-${cell}`,
          endpoints: Object.fromEntries(
            cellServices.map((service) => [service, `${HOST}:${portsOf(service, env, cell).grpc}`]),
          ),
        })),
      );
    }
    // A sidecar writes the routing snapshot its host reads (a shared volume in Kubernetes), with
    // the endpoints of the cell services its host calls and no others.
    const host = spec.kind === 'sidecar' ? spec.sidecarOf : name;
    const hostSpec = host ? (deployables[host as DeployableName] as DeployableSpec) : undefined;
    const viaSnapshot = hostSpec?.calls.filter((c) => 'via' in c).map((c) => c.to) ?? [];
    if (host && viaSnapshot.length > 0) {
      vars.SNAPSHOT_PATH = snapshotPath(host);
      if (spec.kind === 'sidecar') vars.SNAPSHOT_SERVICES = viaSnapshot.join(',');
    }
    const p: Process = { name, deployable: name, ports, env: vars };
    started.set(name, p);
    emit(p);
    waitAtEnd.push(p);
  }
  waitAtEnd.forEach(wait);
  return lines;
}

/** Public URLs, as environment variables the e2e tests and load scripts read. */
function urls(env: Env): string[] {
  const lines: string[] = [];
  for (const name of deployableNames) {
    const spec: DeployableSpec = deployables[name];
    if (spec.kind !== 'edge' && spec.kind !== 'control-plane') continue;
    const variable = `BULKHEAD_${name.replaceAll('-', '_').toUpperCase()}_URL`;
    lines.push(`${variable}=http://${HOST}:${portsOf(name, env).http}`);
  }
  return lines;
}

/**
 * Prometheus's targets (file_sd JSON): every process's metrics port, labelled with its service,
 * its cell (cell services) and the process name as instance.
 */
function scrapeTargets(cells: number, env: Env): string[] {
  const groups = deployableNames.flatMap((name) => {
    const spec: DeployableSpec = deployables[name];
    const cellsOf = spec.kind === 'cell-service' ? cellRange(cells) : [undefined];
    return cellsOf.map((cell) => ({
      targets: [`${HOST}:${portsOf(name, env, cell)[metricsPortOf(spec)]}`],
      labels: {
        service: name,
        ...(cell === undefined ? {} : { cell: `cell-${cell}` }),
        instance: processName(name, cell),
      },
    }));
  });
  return [JSON.stringify(groups, null, 2)];
}

/** Process names (shell patterns for cell services: any cell count) in stop order. */
function stopOrder(): string[] {
  return [...deployableNames].reverse().map((name) => {
    const spec: DeployableSpec = deployables[name];
    return spec.kind === 'cell-service' ? `${name}-cell-*` : name;
  });
}

/** The plan's lines for a command line (`start …`, `stop`, `urls`) and an environment. */
export function renderPlan(argv: string[], env: Env): string[] {
  const [command, ...rest] = argv;
  const option = (flag: string): string | undefined => {
    const i = rest.indexOf(flag);
    return i < 0 ? undefined : rest[i + 1];
  };
  const cellCount = (): number => {
    const cells = Number(option('--cells') ?? '2');
    if (!Number.isInteger(cells) || cells < 1 || cells > 8) {
      throw new PlanError(`the cell count must be 1..8 (got ${option('--cells')})`);
    }
    return cells;
  };
  switch (command) {
    case 'start': {
      const cells = cellCount();
      const dataDir = option('--data-dir');
      if (!dataDir) throw new PlanError('--data-dir is required');
      return startPlan(cells, dataDir, env);
    }
    case 'scrape-targets':
      return scrapeTargets(cellCount(), env);
    case 'stop':
      return stopOrder();
    case 'urls':
      return urls(env);
    default:
      throw new PlanError(
        'usage: local-plan start --cells N --data-dir DIR | stop | urls | scrape-targets --cells N',
      );
  }
}
