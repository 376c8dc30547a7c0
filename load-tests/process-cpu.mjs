// CPU time and memory of every process the local stack registered (infra, services,
// observability backends), read from /proc: a registered process's CPU and memory are its own
// plus those of every live descendant (PostgreSQL's backends, a wrapper's child). Memory is the
// proportional set size (smaps_rollup's Pss: a page shared by n processes counts 1/n in each), so
// PostgreSQL's shared buffers count once, not once per backend as resident sizes would.
//   node load-tests/process-cpu.mjs sample RUN_DIR   one JSON line:
//                                                   { at, seconds: { name: s }, memoryBytes: { name: n } }
//   node load-tests/process-cpu.mjs diff A B         per name, CPU seconds spent between A and B
// Children that exit between two samples are not counted (the stack's long-lived ones are all
// that matter here).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** Every live process: its parent and its CPU seconds (user + system). */
function processes() {
  const all = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // The fields after the command (which may hold spaces and parentheses): state, ppid, …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    all.set(Number(entry), {
      ppid: Number(fields[1]),
      seconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS, // utime + stime
    });
  }
  return all;
}

/** A process's proportional set size in bytes (0 once it has exited). */
function pssBytes(pid) {
  try {
    const kib = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return kib ? Number(kib[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds and memory (Pss) of `root` and its descendants. */
function tree(all, root) {
  const children = new Map();
  for (const [pid, { ppid }] of all) {
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(pid);
  }
  const total = { seconds: 0, memoryBytes: 0 };
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop();
    total.seconds += all.get(pid)?.seconds ?? 0;
    total.memoryBytes += pssBytes(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

export function sample(runDir) {
  const all = processes();
  const seconds = {};
  const memoryBytes = {};
  for (const file of readdirSync(runDir)) {
    if (!file.endsWith('.pid')) continue;
    const pid = Number(readFileSync(join(runDir, file), 'utf8').trim());
    if (!all.has(pid)) continue;
    const name = file.slice(0, -'.pid'.length);
    ({ seconds: seconds[name], memoryBytes: memoryBytes[name] } = tree(all, pid));
  }
  return { at: Date.now(), seconds, memoryBytes };
}

function diff(a, b) {
  const spent = {};
  for (const [name, s] of Object.entries(b.seconds)) {
    // A process restarted between the samples counts from zero.
    spent[name] = name in a.seconds && a.seconds[name] <= s ? s - a.seconds[name] : s;
  }
  return { wallSeconds: (b.at - a.at) / 1000, spent };
}

const [mode, ...args] = process.argv.slice(2);
if (!import.meta.main) {
  // imported (load-tests/platform-stats.mjs watch): no command line to run
} else if (mode === 'sample' && args.length === 1) {
  console.log(JSON.stringify(sample(args[0])));
} else if (mode === 'diff' && args.length === 2) {
  const [a, b] = args.map((f) => JSON.parse(readFileSync(f, 'utf8')));
  console.log(JSON.stringify(diff(a, b)));
} else {
  console.error('usage: node load-tests/process-cpu.mjs sample RUN_DIR | diff A.json B.json');
  process.exit(2);
}
