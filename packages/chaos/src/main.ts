/**
 * make chaos (infra/local/chaos.sh): the run, or only its schedule.
 *
 *   node dist/main.js schedule --seed 1 --duration 5m [--profile full|short]
 *   node dist/main.js run --seed 1 --duration 5m [--profile full|short] --out DIR
 *
 * `run` expects the infrastructure, toxiproxy and no services running (chaos.sh sees to it); it
 * starts the services with cell-1 routed through the proxies, sets up tenants and products,
 * drives orders while the schedule runs, heals everything, waits for quiescence, checks, and
 * writes schedule.json, faults.log, history.jsonl, report.json and summary.txt into DIR. Exit
 * code: 0 no violation, 1 violations, 2 bad arguments, 3 the run itself failed.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { z } from 'zod';
import { cellDatabaseName } from '@bulkhead/cell';
import {
  INVARIANTS,
  checkRun,
  formatReport,
  type CheckReport,
} from '@bulkhead/consistency-checker';
import { databaseUrl } from '@bulkhead/db';
import { History, OrderLoad, setUp, type Tenant } from './load.js';
import { Nemesis } from './nemesis.js';
import {
  CELLS,
  PROFILES,
  PROXIED_CELL,
  generateSchedule,
  parseDuration,
  type Link,
  type ProfileName,
  type Schedule,
} from './schedule.js';
import { Toxiproxy } from './toxiproxy.js';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const env = process.env;
const port = (name: string, fallback: number) => Number(env[name] ?? fallback);

const argsSchema = z.object({
  seed: z.coerce.number().int().nonnegative(),
  duration: z.string().transform((text, ctx) => {
    try {
      return parseDuration(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  }),
  profile: z.enum(Object.keys(PROFILES) as [ProfileName, ...ProfileName[]]).default('full'),
  out: z.string().min(1).optional(),
  'quiesce-ms': z.coerce.number().int().positive().default(180_000),
  'bound-ms': z.coerce.number().int().positive().default(180_000),
  concurrency: z.coerce.number().int().min(1).max(32).default(6),
  'think-ms': z.coerce.number().int().nonnegative().default(500),
});
type Args = z.infer<typeof argsSchema>;

function parse(argv: string[]): { command: string; args: Args } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: Object.fromEntries(
      Object.keys(argsSchema.shape).map((k) => [k, { type: 'string' as const }]),
    ),
  });
  const args = argsSchema.safeParse(values);
  const command = positionals[0] ?? '';
  if (!args.success || !['run', 'schedule'].includes(command)) {
    throw new UsageError(
      `usage: main.js run|schedule --seed N --duration 5m [--profile full|short] [--out DIR]\n${args.success ? '' : z.prettifyError(args.error)}`,
    );
  }
  return { command, args: args.data };
}
class UsageError extends Error {}

async function run(args: Args): Promise<number> {
  const schedule = generateSchedule({
    seed: args.seed,
    durationMs: args.duration,
    profile: args.profile,
  });
  const dataDir = env.BULKHEAD_DATA_DIR ?? `${REPO_ROOT}.data`;
  const out =
    args.out ?? `${dataDir}/chaos/${args.seed}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const archiveDir = `${out}/logs`;
  mkdirSync(archiveDir, { recursive: true });
  writeFileSync(`${out}/schedule.json`, JSON.stringify(schedule, null, 2) + '\n');
  const faultsLog = (line: string) => {
    const text = `${new Date().toISOString()} ${line}`;
    appendFileSync(`${out}/faults.log`, text + '\n');
    process.stdout.write(`[chaos] ${text}\n`);
  };
  faultsLog(
    `seed ${args.seed}, ${schedule.faults.length} faults (profile ${args.profile}, ~${Math.round(schedule.estimatedMs / 1000)} s); output ${out}`,
  );

  const pgPort = port('BULKHEAD_PG_PORT', 15432);
  const pgUrl = `postgres://postgres@127.0.0.1:${pgPort}`;
  const kafkaBrokers = [`127.0.0.1:${port('BULKHEAD_KAFKA_PORT', 19092)}`];
  const toxiproxy = new Toxiproxy(`http://127.0.0.1:${port('BULKHEAD_TOXIPROXY_PORT', 18474)}`);
  const proxies: Record<Link, string> = {
    postgres: `${PROXIED_CELL}-postgres`,
    kafka: `${PROXIED_CELL}-kafka`,
  };
  const pgProxyPort = port('BULKHEAD_PG_PROXY_PORT', 15433);
  const kafkaProxyPort = port('BULKHEAD_KAFKA_PROXY_PORT', 19094);
  await toxiproxy.ensureProxy({
    name: proxies.postgres,
    listen: `127.0.0.1:${pgProxyPort}`,
    upstream: `127.0.0.1:${pgPort}`,
  });
  await toxiproxy.ensureProxy({
    name: proxies.kafka,
    listen: `127.0.0.1:${kafkaProxyPort}`,
    upstream: `127.0.0.1:${port('BULKHEAD_KAFKA_PROXIED_PORT', 19095)}`,
  });
  // services.sh hands these to cell-1's services only (packages/manifest/src/plan.ts).
  const cellVar = PROXIED_CELL.replace('-', '_').toUpperCase();
  const serviceEnv = {
    ...env,
    [`BULKHEAD_${cellVar}_PG_URL`]: `postgres://postgres@127.0.0.1:${pgProxyPort}/postgres`,
    [`BULKHEAD_${cellVar}_KAFKA_BROKERS`]: `127.0.0.1:${kafkaProxyPort}`,
  };
  const nemesis = new Nemesis({
    repoRoot: REPO_ROOT,
    runDir: `${dataDir}/run`,
    logDir: `${dataDir}/logs`,
    archiveDir,
    pgUrl,
    kafkaBrokers,
    toxiproxy,
    proxies,
    serviceEnv,
    log: faultsLog,
  });
  faultsLog('starting the services (cell-1 through toxiproxy)');
  await nemesis.superviseServices();

  const history = new History(`${out}/history.jsonl`);
  const loadRandom = xoroshiro128plus(args.seed ^ 0x5eed);
  const loadOptions = {
    gatewayUrl:
      env.BULKHEAD_GATEWAY_URL ?? `http://127.0.0.1:${port('BULKHEAD_GATEWAY_HTTP_PORT', 8080)}`,
    controlPlaneUrl:
      env.BULKHEAD_CONTROL_PLANE_URL ??
      `http://127.0.0.1:${port('BULKHEAD_CONTROL_PLANE_HTTP_PORT', 8081)}`,
    adminToken: env.CONTROL_PLANE_ADMIN_TOKEN ?? 'dev-admin-token',
    history,
    runId: `${args.seed}-${Date.now().toString(36)}`,
    concurrency: args.concurrency,
    thinkMs: args['think-ms'],
    maxAttempts: 8,
    requestTimeoutMs: 5_000,
  };
  const tenants: Tenant[] = await setUp(loadOptions, CELLS);
  faultsLog(`tenants ${tenants.map((t) => `${t.id} (${t.cell})`).join(', ')}`);
  const load = new OrderLoad(
    loadOptions,
    tenants,
    () => uniformInt(loadRandom, 0, 1_000_000) / 1_000_001,
  );
  load.start();

  const started = Date.now();
  const record = (
    phase: 'start' | 'heal' | 'healed',
    fault?: number,
    kind?: string,
    detail?: string,
  ) =>
    history.record({
      type: 'info',
      f: 'nemesis',
      process: 0,
      at: Date.now(),
      phase,
      ...(fault === undefined ? {} : { fault }),
      ...(kind ? { kind } : {}),
      ...(detail ? { detail } : {}),
    });
  for (const [i, fault] of schedule.faults.entries()) {
    await sleep(fault.gapMs);
    const { gapMs: _gap, ...what } = fault;
    faultsLog(
      `#${i} ${fault.kind} start ${JSON.stringify(what)} (load: ${load.stats.operations} ops, ${load.awaited} awaited)`,
    );
    record('start', i, fault.kind, JSON.stringify(what));
    try {
      const done = await nemesis.inject(fault);
      faultsLog(`#${i} ${fault.kind} healed: ${done}`);
      record('heal', i, fault.kind, done);
    } catch (error) {
      faultsLog(
        `#${i} ${fault.kind} FAILED to run: ${(error as Error).message}; healing everything`,
      );
      record('heal', i, fault.kind, `failed: ${(error as Error).message}`);
      await nemesis.healAll();
    }
  }
  await nemesis.healAll();
  record('healed');
  faultsLog(
    `schedule done in ${Math.round((Date.now() - started) / 1000)} s; everything healed; placing stops`,
  );
  await load.stopPlacing();

  // Quiescence: every accepted order read terminal, none PENDING in the databases, none reserved.
  const quiesceUntil = Date.now() + args['quiesce-ms'];
  let quiet = false;
  while (Date.now() < quiesceUntil) {
    const left = await unsettled(pgUrl, tenants);
    if (load.awaited === 0 && left.pending === 0 && left.reserved === 0) {
      quiet = true;
      break;
    }
    await sleep(1_000);
  }
  faultsLog(
    quiet
      ? 'quiescent'
      : `not quiescent after ${args['quiesce-ms']} ms (${load.awaited} orders still awaited)`,
  );
  // The one re-read of the last terminal orders, then the history is complete.
  await sleep(3_500);
  await load.stopPolling();
  await history.close();
  // The current incarnation of every registered process (earlier ones were kept at each restart).
  for (const name of await nemesis.registered()) await nemesis.archiveLog(name);

  const report = await checkRun({
    historyPath: `${out}/history.jsonl`,
    pgUrl,
    terminalBoundMs: args['bound-ms'],
  });
  await addLogEvidence(report, archiveDir, `${out}/faults.log`);
  writeFileSync(
    `${out}/report.json`,
    JSON.stringify({ schedule: summaryOf(schedule), ...report }, null, 2) + '\n',
  );
  const summary = [
    `chaos run: seed ${args.seed}, profile ${args.profile}, ${schedule.faults.length} faults in ${Math.round((Date.now() - started) / 1000)} s`,
    `placed ${load.stats.operations} operations, ${load.stats.accepted} accepted (202), ${load.stats.gaveUp} gave up after ${loadOptions.maxAttempts} tries`,
    formatReport(report),
    `output: ${out}`,
  ].join('\n');
  writeFileSync(`${out}/summary.txt`, summary + '\n');
  // One check per invariant, in the form make test totals (infra/local/suites.sh script_suite).
  const failing = INVARIANTS.filter((inv) => report.violationsByInvariant[inv]).length;
  process.stdout.write(`\n${summary}\n${INVARIANTS.length - failing} passed, ${failing} failed\n`);
  return report.valid ? 0 : 1;
}

function summaryOf(schedule: Schedule) {
  const byKind: Record<string, number> = {};
  for (const f of schedule.faults) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  return { seed: schedule.seed, profile: schedule.profile, faults: schedule.faults.length, byKind };
}

/** PENDING orders and reserved units of the run's tenants, straight from the databases. */
async function unsettled(
  pgUrl: string,
  tenants: Tenant[],
): Promise<{ pending: number; reserved: number }> {
  let pending = 0;
  let reserved = 0;
  for (const cell of new Set(tenants.map((t) => t.cell))) {
    const ids = tenants.filter((t) => t.cell === cell).map((t) => t.id);
    const q = async (service: 'orders' | 'inventory', text: string) => {
      const client = new pg.Client({
        connectionString: databaseUrl(pgUrl, cellDatabaseName(cell, service)),
      });
      await client.connect();
      try {
        return Number((await client.query<{ n: string }>(text, [ids])).rows[0]?.n ?? 0);
      } finally {
        await client.end();
      }
    };
    try {
      pending += await q(
        'orders',
        `SELECT count(*) AS n FROM orders WHERE tenant_id = ANY($1) AND status = 'PENDING'`,
      );
      reserved += await q(
        'inventory',
        'SELECT coalesce(sum(reserved), 0) AS n FROM products WHERE tenant_id = ANY($1)',
      );
    } catch {
      pending += 1; // the database is not answering yet: not quiescent
    }
  }
  return { pending, reserved };
}

/** Adds to each violation naming an order the services' log lines about it and the faults before it. */
async function addLogEvidence(
  report: CheckReport,
  logDir: string,
  faultsLogPath: string,
): Promise<void> {
  const logs = await Promise.all(
    (await readdir(logDir)).map(async (f) => ({
      name: f,
      lines: (await readFile(`${logDir}/${f}`, 'utf8')).split('\n'),
    })),
  );
  const faults = (await readFile(faultsLogPath, 'utf8'))
    .split('\n')
    .filter((l) => / start /.test(l));
  for (const v of report.violations.slice(0, 50)) {
    if (!v.orderId) continue;
    const lines = logs.flatMap(({ name, lines }) =>
      lines
        .filter((l) => l.includes(v.orderId!))
        .slice(0, 8)
        .map((l) => `${name}: ${l.slice(0, 400)}`),
    );
    v.evidence.logs = lines.slice(0, 20);
    // pino writes "time" as an ISO string here (epoch milliseconds elsewhere).
    const firstTime = lines
      .map((l) => /"time":"?([^",]+)"?/.exec(l)?.[1])
      .filter((t): t is string => t !== undefined)
      .map((t) => (/^\d+$/.test(t) ? Number(t) : Date.parse(t)))
      .filter((t) => Number.isFinite(t))
      .sort((a, b) => a - b)[0];
    if (firstTime !== undefined) {
      v.evidence.faultsBefore = faults
        .filter((l) => Date.parse(l.slice(0, 24)) <= firstTime + 60_000)
        .slice(-3);
    }
  }
}

async function main(): Promise<number> {
  const { command, args } = parse(process.argv.slice(2));
  if (command === 'schedule') {
    const schedule = generateSchedule({
      seed: args.seed,
      durationMs: args.duration,
      profile: args.profile,
    });
    process.stdout.write(JSON.stringify(schedule, null, 2) + '\n');
    return 0;
  }
  return run(args);
}

// Whatever ends the process late (an error event of a client after the verdict) shows here.
process.on('exit', (code) => {
  if (code !== 0) process.stderr.write(`[chaos] exiting with status ${code}\n`);
});
process.on('uncaughtException', (error) => {
  process.stderr.write(`[chaos] uncaught: ${error.stack ?? String(error)}\n`);
  process.exitCode = 3;
});

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `[chaos] ${error instanceof UsageError ? error.message : ((error as Error).stack ?? String(error))}\n`,
    );
    process.exitCode = error instanceof UsageError ? 2 : 3;
  },
);
