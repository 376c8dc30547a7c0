import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appendFile, readFile, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { cellConsumerGroup, cellDatabaseName, consumedTopic } from '@bulkhead/cell';
import { databaseUrl } from '@bulkhead/db';
import type { Link, ProcessName, ScheduledFault } from './schedule.js';
import type { Toxiproxy } from './toxiproxy.js';

const exec = promisify(execFile);

/**
 * The nemesis: carries out each fault of the schedule below the application, and is the
 * supervisor — whatever it killed or stopped it starts again (infra/local/services.sh start
 * starts what is not running and waits until everything is ready).
 */

export interface NemesisOptions {
  repoRoot: string;
  runDir: string;
  logDir: string;
  /** Where each incarnation's log is kept before a restart replaces it. */
  archiveDir: string;
  /** PostgreSQL and Kafka, direct (not through the proxies). */
  pgUrl: string;
  kafkaBrokers: string[];
  toxiproxy: Toxiproxy;
  /** The toxiproxy proxy of each of cell-1's links. */
  proxies: Record<Link, string>;
  /** The environment services.sh runs with: cell-1 routed through the proxies. */
  serviceEnv: NodeJS.ProcessEnv;
  /** One line of faults.log. */
  log: (line: string) => void;
}

/** The outbox relay's advisory lock (packages/outbox, "outbox" in ASCII), as pg_locks shows it. */
const RELAY_LOCK = 0x6f7574626f78n;
const RELAY_LOCK_CLASSID = Number(RELAY_LOCK >> 32n);
const RELAY_LOCK_OBJID = Number(RELAY_LOCK & 0xffffffffn);

/** True while the process exists and is not a zombie (its state follows the parenthesised name). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

export class Nemesis {
  constructor(private readonly o: NemesisOptions) {}

  async pidOf(name: string): Promise<number> {
    const text = await readFile(`${this.o.runDir}/${name}.pid`, 'utf8');
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${name}: no pid`);
    return pid;
  }

  private async waitGone(pid: number, timeoutMs: number): Promise<boolean> {
    for (const until = Date.now() + timeoutMs; Date.now() < until;) {
      if (!alive(pid)) return true;
      await sleep(50);
    }
    return !alive(pid);
  }

  /** Keeps the log of every process that is dead, before services.sh start replaces it. */
  private async archiveLogsOfDead(): Promise<void> {
    for (const name of await this.registered()) {
      const pid = await this.pidOf(name).catch(() => 0);
      if (pid && alive(pid)) continue;
      await this.archiveLog(name);
    }
  }

  async archiveLog(name: string): Promise<void> {
    const text = await readFile(`${this.o.logDir}/${name}.log`, 'utf8').catch(() => '');
    if (text) await appendFile(`${this.o.archiveDir}/${name}.log`, text);
  }

  /** The supervisor: starts whatever is not running and waits until all is ready. */
  async superviseServices(): Promise<void> {
    await this.archiveLogsOfDead();
    await this.script('services.sh', ['start'], 300_000);
  }

  async infra(...args: string[]): Promise<void> {
    await this.script('infra.sh', args, 240_000);
  }

  private async script(name: string, args: string[], timeoutMs: number): Promise<void> {
    try {
      await exec('bash', [`${this.o.repoRoot}/infra/local/${name}`, ...args], {
        env: this.o.serviceEnv,
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      throw new Error(
        `${name} ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-5).join(' | ')}`,
      );
    }
  }

  private async signal(name: ProcessName, signal: NodeJS.Signals): Promise<number> {
    const pid = await this.pidOf(name);
    process.kill(pid, signal);
    return pid;
  }

  /** SIGTERM and wait until it exited (a graceful stop: it leaves its consumer group). */
  private async stop(name: ProcessName): Promise<void> {
    const pid = await this.signal(name, 'SIGTERM');
    if (!(await this.waitGone(pid, 40_000))) {
      process.kill(pid, 'SIGKILL');
      await this.waitGone(pid, 5_000);
      this.o.log(`${name} did not stop within 40 s: SIGKILL`);
    }
  }

  /** Carries out one fault and heals it; returns a description of what was done. */
  async inject(fault: ScheduledFault): Promise<string> {
    switch (fault.kind) {
      case 'kill': {
        const pid = await this.signal(fault.target, 'SIGKILL');
        await this.waitGone(pid, 5_000);
        await this.superviseServices();
        return `kill -9 ${fault.target} (pid ${pid}), restarted`;
      }
      case 'kill-relay':
        return this.killRelay(fault.target);
      case 'pause': {
        const pid = await this.signal(fault.target, 'SIGSTOP');
        try {
          await sleep(fault.durationMs);
        } finally {
          process.kill(pid, 'SIGCONT');
        }
        await this.superviseServices();
        return `SIGSTOP ${fault.target} (pid ${pid}) for ${fault.durationMs} ms, then SIGCONT`;
      }
      case 'kafka-stop':
        await this.infra('stop', 'kafka');
        await sleep(fault.durationMs);
        await this.infra('start');
        await this.superviseServices();
        return `Kafka stopped for ${fault.durationMs} ms, started`;
      case 'postgres-restart':
        await this.infra('stop', 'postgres');
        await this.infra('start');
        await this.superviseServices();
        return 'PostgreSQL stopped (fast shutdown) and started';
      case 'redis-stop':
        await this.infra('stop', 'redis');
        await sleep(fault.durationMs);
        await this.infra('start');
        await this.superviseServices();
        return `Redis stopped for ${fault.durationMs} ms, started`;
      case 'control-plane-stop':
        await this.stop('control-plane');
        await sleep(fault.durationMs);
        await this.superviseServices();
        return `control plane stopped for ${fault.durationMs} ms, started`;
      case 'rewind-offsets':
        return this.rewind(fault.cell, fault.service, fault.messages);
      case 'partition':
        return this.partition(fault.link, fault.durationMs);
      case 'latency': {
        const proxy = this.o.proxies[fault.link];
        await this.o.toxiproxy.addToxic(proxy, {
          name: 'chaos-latency',
          type: 'latency',
          stream: 'downstream',
          attributes: { latency: fault.latencyMs, jitter: fault.jitterMs },
        });
        try {
          await sleep(fault.durationMs);
        } finally {
          await this.o.toxiproxy.removeToxic(proxy, 'chaos-latency');
        }
        await this.superviseServices();
        return `${fault.latencyMs}±${fault.jitterMs} ms latency cell-1 ↔ ${fault.link} for ${fault.durationMs} ms`;
      }
    }
  }

  /**
   * kill -9 while the relay is in the middle of a batch: its connection holds the relay's
   * advisory lock and sits idle in the transaction after selecting the unsent rows FOR UPDATE
   * (the publish is in flight). Slow broker answers (a latency toxic on cell-1's Kafka link)
   * make the window wide enough to see; the rows published but not marked sent go out again
   * after the restart, so the consumers see them twice.
   */
  private async killRelay(target: ProcessName): Promise<string> {
    const [service, ...cellParts] = target.split('-');
    const cell = cellParts.join('-');
    const database = cellDatabaseName(cell, service as 'orders' | 'inventory' | 'payments');
    const proxy = this.o.proxies.kafka;
    await this.o.toxiproxy.addToxic(proxy, {
      name: 'chaos-relay-slow',
      type: 'latency',
      stream: 'downstream',
      attributes: { latency: 1_500, jitter: 0 },
    });
    const client = new pg.Client({ connectionString: databaseUrl(this.o.pgUrl, 'postgres') });
    let evidence = 'the relay was never seen mid-batch within 60 s; killed anyway';
    let pid = 0;
    try {
      await client.connect();
      for (const until = Date.now() + 60_000; Date.now() < until;) {
        const { rows } = await client.query<{ pid: number; state: string; query: string }>(
          `SELECT a.pid, a.state, a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.granted
              AND a.datname = $3 AND a.application_name = $4`,
          [RELAY_LOCK_CLASSID, RELAY_LOCK_OBJID, database, target],
        );
        const holder = rows[0];
        if (holder && holder.state === 'idle in transaction' && /FROM outbox/.test(holder.query)) {
          pid = await this.signal(target, 'SIGKILL');
          const unsent = await unsentOutboxRows(this.o.pgUrl, database);
          evidence = `relay lock 0x6f7574626f78 held by backend ${holder.pid} of ${target}, idle in transaction after "${holder.query.replace(/\s+/g, ' ').slice(0, 80)}"; ${unsent} unsent outbox rows`;
          break;
        }
        await sleep(20);
      }
    } finally {
      await client.end().catch(() => undefined);
      await this.o.toxiproxy.removeToxic(proxy, 'chaos-relay-slow').catch(() => undefined);
    }
    if (!pid) pid = await this.signal(target, 'SIGKILL');
    await this.waitGone(pid, 5_000);
    await this.superviseServices();
    return `kill -9 ${target} (pid ${pid}) mid-batch: ${evidence}; restarted`;
  }

  private async rewind(
    cell: string,
    service: 'orders' | 'inventory' | 'payments',
    messages: number,
  ): Promise<string> {
    const target = `${service}-${cell}` as ProcessName;
    const groupId = cellConsumerGroup(cell, service);
    const topic = consumedTopic(cell, service);
    await this.stop(target);
    const kafka = new Kafka({
      clientId: 'chaos-nemesis',
      brokers: this.o.kafkaBrokers,
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    let moved = '';
    try {
      await admin.connect();
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const partitions = (offsets?.partitions ?? [])
        .filter((p) => Number(p.offset) >= 0)
        .map((p) => ({
          partition: p.partition,
          offset: String(Math.max(0, Number(p.offset) - messages)),
        }));
      // The group is empty once the stopped consumer has left; the broker may take a moment.
      for (let tries = 1; ; tries++) {
        try {
          await admin.setOffsets({ groupId, topic, partitions });
          break;
        } catch (error) {
          if (tries >= 20) throw error;
          await sleep(1_000);
        }
      }
      const back = (offsets?.partitions ?? []).reduce(
        (n, p) => n + Math.min(messages, Math.max(0, Number(p.offset))),
        0,
      );
      moved = `${back} messages over ${partitions.length} partitions`;
    } finally {
      await admin.disconnect().catch(() => undefined);
      await this.superviseServices();
    }
    return `group ${groupId} rewound ${messages} per partition on ${topic} (${moved}) with ${target} stopped; restarted`;
  }

  private async partition(link: Link, durationMs: number): Promise<string> {
    const proxy = this.o.proxies[link];
    for (const stream of ['upstream', 'downstream'] as const) {
      await this.o.toxiproxy.addToxic(proxy, {
        name: `chaos-partition-${stream}`,
        type: 'timeout',
        stream,
        attributes: { timeout: 0 },
      });
    }
    try {
      await sleep(durationMs);
    } finally {
      // The black hole drops bytes: connections that lived through it would resume mid-stream.
      // Closing them, as the peers' keepalive timers would have by then, then healing.
      await this.o.toxiproxy.setEnabled(proxy, false);
      for (const stream of ['upstream', 'downstream'] as const) {
        await this.o.toxiproxy.removeToxic(proxy, `chaos-partition-${stream}`);
      }
      await this.o.toxiproxy.setEnabled(proxy, true);
    }
    await this.superviseServices();
    return `cell-1 ↔ ${link} black-holed (toxiproxy timeout 0, both ways) for ${durationMs} ms; connections closed, healed`;
  }

  /** After the schedule, or after a fault that failed: every proxy clean, everything up. */
  async healAll(): Promise<void> {
    await this.o.toxiproxy.reset();
    for (const name of await this.registered()) {
      const pid = await this.pidOf(name).catch(() => 0);
      if (pid && alive(pid)) process.kill(pid, 'SIGCONT');
    }
    await this.infra('start');
    await this.superviseServices();
  }

  /** Every process of the registry (RUN_DIR/NAME.pid). */
  async registered(): Promise<string[]> {
    const files = await readdir(this.o.runDir);
    return files.filter((f) => f.endsWith('.pid')).map((f) => f.slice(0, -'.pid'.length));
  }
}

async function unsentOutboxRows(pgUrl: string, database: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl(pgUrl, database) });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL',
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}
