// What loading the telemetry costs a process with export off, without the stack: the bare
// node:http hello and @grpc/grpc-js echo of load-tests/limits/servers.mjs, started with each MODE's
// `--import` (or none), each driven by this process with a fixed number of requests; the server's
// CPU (user + system, /proc) per 1000 requests, the median over the rounds, and each mode ÷ none.
//   node load-tests/telemetry-floor.mjs [--requests 20000] [--warmup 2000] [--concurrency 16]
//                                       [--rounds 3] [--mode NAME=REGISTER[,VAR=value…]]…
// A mode's REGISTER is a path given to `node --import` (`-`: none); its VAR=value pairs are added
// to the server's environment, every OTEL_* variable of this process's being removed first.
// Default modes: none (no --import) and register (packages/telemetry/dist/register.js, no
// exporter). Rounds run the modes in order, then reversed, … so a drift weighs on all alike.
// Servers on 127.0.0.1:18501 (HTTP) and 18502 (gRPC). Prints a table and, last, one JSON line.
import { Buffer } from 'node:buffer';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import grpc from '@grpc/grpc-js';
import { ECHO_SERVICE } from './limits/echo-service.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVERS = fileURLToPath(new URL('./limits/servers.mjs', import.meta.url));
const PORTS = { http: 18501, grpc: 18502 };
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
    mode: { type: 'string', multiple: true },
  },
});
const positive = (name) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
};
const requests = positive('requests');
const warmup = positive('warmup');
const concurrency = positive('concurrency');
const rounds = positive('rounds');
const modes = (
  values.mode ?? ['none=-', `register=${ROOT}packages/telemetry/dist/register.js`]
).map((spec) => {
  const [name, rest = ''] = spec.split(/=(.*)/s);
  const [register, ...pairs] = rest.split(',');
  if (!name || !register) throw new Error(`--mode ${spec}: NAME=REGISTER[,VAR=value…]`);
  const env = Object.fromEntries(pairs.map((pair) => pair.split(/=(.*)/s).slice(0, 2)));
  return { name, register: register === '-' ? undefined : resolve(register), env };
});

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Starts the server of a protocol in a mode; resolves once it prints its port. */
async function startServer(protocol, mode) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('OTEL_')),
  );
  const args = [...(mode.register ? ['--import', mode.register] : []), SERVERS, protocol];
  const child = spawn(process.execPath, [...args, String(PORTS[protocol])], {
    env: { ...env, ...mode.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the ${protocol} server (${mode.name}) exited with ${code}`);
  });
  const [line] = await Promise.race([
    once(createInterface({ input: child.stdout }), 'line'),
    exited,
  ]);
  if (Number(line) !== PORTS[protocol]) throw new Error(`unexpected port line: ${line}`);
  exited.catch(() => {}); // from here on, the stop below ends it
  return {
    pid: child.pid,
    async stop() {
      const done = once(child, 'exit');
      child.kill('SIGTERM');
      await done;
    },
  };
}

/** count requests, `concurrency` at a time, each loop sending its next when the last answered. */
async function drive(count, send) {
  let left = count;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left > 0) {
        left -= 1;
        await send();
      }
    }),
  );
}

function httpClient() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const send = () =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: PORTS.http, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      });
      req.on('error', reject);
    });
  return { send, close: () => agent.destroy() };
}

function grpcClient() {
  const Echo = grpc.makeGenericClientConstructor(ECHO_SERVICE);
  const client = new Echo(`127.0.0.1:${PORTS.grpc}`, grpc.credentials.createInsecure());
  // EchoMessage { text: "hello" } as protobuf bytes (field 1, length-delimited).
  const message = Buffer.from([0x0a, 5, ...Buffer.from('hello')]);
  const send = () =>
    new Promise((resolve, reject) => {
      client.echo(message, (error) => (error ? reject(error) : resolve()));
    });
  return { send, close: () => client.close() };
}

/** One server run: warm-up, then the measured requests; CPU ms per 1000 and requests/s. */
async function measure(protocol, mode) {
  const server = await startServer(protocol, mode);
  const client = protocol === 'http' ? httpClient() : grpcClient();
  try {
    await drive(warmup, client.send);
    const cpuBefore = cpuSeconds(server.pid);
    const started = process.hrtime.bigint();
    await drive(requests, client.send);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = cpuSeconds(server.pid) - cpuBefore;
    return { cpuMsPer1000: (cpu * 1000 * 1000) / requests, requestsPerSecond: requests / seconds };
  } finally {
    client.close();
    await server.stop();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const runs = [];
for (let round = 1; round <= rounds; round += 1) {
  const order = round % 2 ? modes : [...modes].reverse();
  for (const protocol of ['http', 'grpc']) {
    for (const mode of order) {
      const figures = await measure(protocol, mode);
      runs.push({ round, protocol, mode: mode.name, ...figures });
      console.log(
        `round ${round} ${protocol.padEnd(4)} ${mode.name.padEnd(12)} ` +
          `${figures.cpuMsPer1000.toFixed(1).padStart(7)} CPU ms/1000 req  ` +
          `${figures.requestsPerSecond.toFixed(0).padStart(6)} req/s`,
      );
    }
  }
}

const summary = {};
for (const protocol of ['http', 'grpc']) {
  summary[protocol] = {};
  const base = median(
    runs
      .filter((r) => r.protocol === protocol && r.mode === modes[0].name)
      .map((r) => r.cpuMsPer1000),
  );
  console.log(
    `\n${protocol}: median of ${rounds} (server CPU ms per 1000 requests, ÷ ${modes[0].name})`,
  );
  for (const mode of modes) {
    const cpu = median(
      runs
        .filter((r) => r.protocol === protocol && r.mode === mode.name)
        .map((r) => r.cpuMsPer1000),
    );
    summary[protocol][mode.name] = { cpuMsPer1000: cpu, ratio: cpu / base };
    console.log(
      `  ${mode.name.padEnd(12)} ${cpu.toFixed(1).padStart(7)}  ×${(cpu / base).toFixed(3)}`,
    );
  }
}
console.log(JSON.stringify({ requests, warmup, concurrency, rounds, modes, summary, runs }));
