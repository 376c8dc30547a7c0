import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: this module is packages/testkit/{src,dist}/kafka.*. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The broker's configuration and logging, shared with infra/local/infra.sh. */
const KAFKA_CONFIG_DIR = join(REPO_ROOT, 'infra/local/kafka');

/** Where the Kafka jars are: BULKHEAD_KAFKA_HOME, else .tools/kafka-<the version in lib.sh>. */
function kafkaHome(): string {
  const fromEnv = process.env.BULKHEAD_KAFKA_HOME;
  if (fromEnv) return fromEnv;
  const lib = readFileSync(join(REPO_ROOT, 'infra/local/lib.sh'), 'utf8');
  const version = /^KAFKA_VERSION=(\S+)$/m.exec(lib)?.[1];
  if (!version) throw new Error('KAFKA_VERSION not found in infra/local/lib.sh');
  return join(REPO_ROOT, '.tools', `kafka-${version}`);
}

/** The JVM flags of the local broker (BULKHEAD_KAFKA_JVM_OPTS, else infra/local/kafka/jvm.options). */
function jvmOptions(): string[] {
  const line =
    process.env.BULKHEAD_KAFKA_JVM_OPTS ??
    readFileSync(join(KAFKA_CONFIG_DIR, 'jvm.options'), 'utf8');
  return line.trim().split(/\s+/);
}

/** A loopback port free right now (the broker binds it a moment later). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function accepts(port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

/** Polls until check() is true; fails with what(), e.g. the end of the log, after timeoutMs. */
async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${await what()} (after ${timeoutMs} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const alive = (child: ChildProcess): boolean =>
  child.exitCode === null && child.signalCode === null;

/** Brokers still running when the test process exits are killed with it. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** A Kafka broker of one test: its own ports, its own data directory, stopped and started at will. */
export interface PrivateKafka {
  /** Bootstrap servers, e.g. ['127.0.0.1:41234']: the same across stop() and start(). */
  readonly brokers: string[];
  /** True while the broker process runs. */
  running(): boolean;
  /** Starts the broker again on the same ports and data; resolves once it accepts clients. */
  start(): Promise<void>;
  /**
   * Stops the broker and waits for its process to end: SIGTERM for a clean shutdown (SIGKILL
   * after 30 s), or SIGKILL for a crash.
   */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Kills the broker if it runs and deletes its data directory. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;
const STARTED_LINE = 'Kafka Server started';

/**
 * Starts a single-node KRaft broker (broker and controller in one JVM) from the jars under
 * .tools, configured like the local infra's (infra/local/kafka/server.properties, rendered with
 * free loopback ports and a fresh data directory under the system's temp dir), for a test that
 * stops and restarts a broker: the shared one (infra/local/infra.sh) is left alone. Resolves
 * once the broker logged that it started and accepts connections. Needs `java` on PATH.
 */
export async function startPrivateKafka(): Promise<PrivateKafka> {
  const home = kafkaHome();
  await stat(join(home, 'libs')).catch((error: unknown) => {
    throw new Error(`no Kafka jars in ${home} (run infra/local/install.sh)`, { cause: error });
  });
  const [port, controllerPort, proxiedPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const dir = await mkdtemp(join(tmpdir(), 'bulkhead-kafka-'));
  const properties = join(dir, 'server.properties');
  const logFile = join(dir, 'kafka.log');
  const template = await readFile(join(KAFKA_CONFIG_DIR, 'server.properties'), 'utf8');
  await writeFile(
    properties,
    template
      .replaceAll('@BROKER_PORT@', String(port))
      .replaceAll('@CONTROLLER_PORT@', String(controllerPort))
      // No fault proxy in front of a private broker: its PROXIED listener advertises itself.
      .replaceAll('@PROXIED_PORT@', String(proxiedPort))
      .replaceAll('@PROXY_PORT@', String(proxiedPort))
      .replaceAll('@LOG_DIRS@', join(dir, 'data')),
  );
  const java = (mainClass: string, args: string[]): ChildProcess => {
    const out = openSync(logFile, 'a');
    try {
      const child = spawn(
        'java',
        [
          ...jvmOptions(),
          '-Djava.awt.headless=true',
          `-Dlog4j2.configurationFile=${join(KAFKA_CONFIG_DIR, 'log4j2.properties')}`,
          '-cp',
          join(home, 'libs', '*'),
          mainClass,
          ...args,
        ],
        { stdio: ['ignore', out, out] },
      );
      track(child);
      return child;
    } finally {
      closeSync(out); // the child has its own copy
    }
  };
  const logTail = async (): Promise<string> => {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    return `Kafka on 127.0.0.1:${port}: ${log.slice(-2_000)}`;
  };

  // Format the storage once, as a single-node quorum.
  let clusterId = '';
  while (clusterId === '' || clusterId.startsWith('-')) {
    clusterId = randomBytes(16).toString('base64url');
  }
  const format = java('kafka.tools.StorageTool', [
    'format',
    '-t',
    clusterId,
    '-c',
    properties,
    '--standalone',
  ]);
  const [code] = (await once(format, 'exit')) as [number | null];
  if (code !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`formatting the storage failed: ${await logTail()}`);
  }

  let broker: ChildProcess | undefined;
  const running = (): boolean => broker !== undefined && alive(broker);

  async function start(): Promise<void> {
    if (running()) return;
    const logOffset = (await stat(logFile)).size;
    const child = java('kafka.Kafka', [properties]);
    broker = child;
    const started = async (): Promise<boolean> => {
      if (!alive(child)) throw new Error(`the broker exited: ${await logTail()}`);
      const log = await readFile(logFile);
      return log.subarray(logOffset).includes(STARTED_LINE) && (await accepts(port));
    };
    await until(started, START_TIMEOUT_MS, async () => `not started: ${await logTail()}`);
  }

  async function stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = broker;
    if (child === undefined || !alive(child)) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  try {
    await start();
  } catch (error) {
    await stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    brokers: [`127.0.0.1:${port}`],
    running,
    start,
    stop,
    async close() {
      await stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
