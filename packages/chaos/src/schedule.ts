import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/**
 * The seeded fault schedule: a list of faults, each injected below the application, in order,
 * with a pause before each. The same seed, duration and profile give the same schedule (a
 * xoroshiro128+ stream from pure-rand, drawn in a fixed order); the runner writes it to
 * schedule.json before anything runs.
 *
 * Every kind runs at least once whatever the duration (a short run shortens the gaps and the
 * faults' lengths, never the kinds); the time left is filled with more faults drawn at random.
 */

/** The services a fault can hit: every kind of deployable, a cell service in either cell. */
export const PLATFORM_PROCESSES = ['gateway', 'control-plane', 'config-agent'] as const;
export const CELL_SERVICES = ['orders', 'inventory', 'payments'] as const;
export type CellServiceName = (typeof CELL_SERVICES)[number];
export const CELLS = ['cell-1', 'cell-2'] as const;
/** The cell whose links to Kafka and PostgreSQL go through toxiproxy. */
export const PROXIED_CELL = 'cell-1';
export type ProcessName =
  (typeof PLATFORM_PROCESSES)[number] | `${CellServiceName}-${(typeof CELLS)[number]}`;
export type Link = 'kafka' | 'postgres';

export type Fault =
  /** kill -9 of one process; the runner restarts it. */
  | { kind: 'kill'; target: ProcessName }
  /** kill -9 of a cell-1 service while its outbox relay holds its lock with a batch in flight. */
  | { kind: 'kill-relay'; target: ProcessName }
  /** SIGSTOP, then SIGCONT after durationMs (longer than the Kafka session and gRPC deadlines). */
  | { kind: 'pause'; target: ProcessName; durationMs: number }
  | { kind: 'kafka-stop'; durationMs: number }
  | { kind: 'postgres-restart' }
  | { kind: 'redis-stop'; durationMs: number }
  | { kind: 'control-plane-stop'; durationMs: number }
  /** Duplicate delivery: stop the service, move its group's offsets back, start it again. */
  | { kind: 'rewind-offsets'; cell: string; service: CellServiceName; messages: number }
  /** Black hole between cell-1 and Kafka or PostgreSQL (toxiproxy `timeout` 0, both ways). */
  | { kind: 'partition'; link: Link; durationMs: number }
  | { kind: 'latency'; link: Link; latencyMs: number; jitterMs: number; durationMs: number };

export type FaultKind = Fault['kind'];
export const FAULT_KINDS: readonly FaultKind[] = [
  'kill',
  'kill-relay',
  'pause',
  'kafka-stop',
  'postgres-restart',
  'redis-stop',
  'control-plane-stop',
  'rewind-offsets',
  'partition',
  'latency',
];

export type ScheduledFault = Fault & { gapMs: number };

export interface Schedule {
  seed: number;
  durationMs: number;
  profile: ProfileName;
  /** What the faults and gaps are expected to take, recoveries included. */
  estimatedMs: number;
  faults: ScheduledFault[];
}

type Range = readonly [number, number];
interface Profile {
  gapMs: Range;
  pauseMs: Range;
  redisMs: Range;
  controlPlaneMs: Range;
  partitionMs: Range;
  latencyMs: Range;
  latencyForMs: Range;
  rewindMessages: Range;
}
/** `short` keeps every kind and shortens gaps and lengths: the run inside make test. */
export const PROFILES = {
  full: {
    gapMs: [2_000, 6_000],
    pauseMs: [12_000, 20_000],
    redisMs: [8_000, 20_000],
    controlPlaneMs: [10_000, 25_000],
    partitionMs: [10_000, 20_000],
    latencyMs: [200, 800],
    latencyForMs: [15_000, 30_000],
    rewindMessages: [20, 200],
  },
  short: {
    gapMs: [500, 1_500],
    pauseMs: [12_000, 13_000],
    redisMs: [4_000, 6_000],
    controlPlaneMs: [6_000, 8_000],
    partitionMs: [6_000, 8_000],
    latencyMs: [300, 600],
    latencyForMs: [6_000, 8_000],
    rewindMessages: [20, 50],
  },
} as const satisfies Record<string, Profile>;
export type ProfileName = keyof typeof PROFILES;

/** The Kafka broker is stopped for 30 s in every profile. */
export const KAFKA_STOP_MS = 30_000;

/** What each fault takes beyond its own length: the restart and the wait until ready. */
const RECOVERY_MS: Record<FaultKind, number> = {
  kill: 8_000,
  'kill-relay': 12_000,
  pause: 4_000,
  'kafka-stop': 15_000,
  'postgres-restart': 15_000,
  'redis-stop': 2_000,
  'control-plane-stop': 5_000,
  'rewind-offsets': 10_000,
  partition: 5_000,
  latency: 2_000,
};

export function estimateMs(fault: ScheduledFault): number {
  const length = 'durationMs' in fault ? fault.durationMs : 0;
  return fault.gapMs + length + RECOVERY_MS[fault.kind];
}

class Draw {
  private readonly rng: RandomGenerator;
  constructor(seed: number) {
    this.rng = xoroshiro128plus(seed);
  }
  int(from: number, to: number): number {
    return uniformInt(this.rng, from, to);
  }
  range([from, to]: Range): number {
    return this.int(from, to);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

const cellProcess = (service: CellServiceName, cell: string) => `${service}-${cell}` as ProcessName;
const ANY_PROCESS: ProcessName[] = [
  ...PLATFORM_PROCESSES,
  ...CELLS.flatMap((cell) => CELL_SERVICES.map((s) => cellProcess(s, cell))),
];

function draw(kind: FaultKind, d: Draw, p: Profile): Fault {
  switch (kind) {
    case 'kill':
      return { kind, target: d.pick(ANY_PROCESS) };
    case 'kill-relay':
      return { kind, target: cellProcess(d.pick(CELL_SERVICES), PROXIED_CELL) };
    case 'pause':
      return { kind, target: d.pick(ANY_PROCESS), durationMs: d.range(p.pauseMs) };
    case 'kafka-stop':
      return { kind, durationMs: KAFKA_STOP_MS };
    case 'postgres-restart':
      return { kind };
    case 'redis-stop':
      return { kind, durationMs: d.range(p.redisMs) };
    case 'control-plane-stop':
      return { kind, durationMs: d.range(p.controlPlaneMs) };
    case 'rewind-offsets':
      return {
        kind,
        cell: d.pick(CELLS),
        service: d.pick(CELL_SERVICES),
        messages: d.range(p.rewindMessages),
      };
    case 'partition':
      return {
        kind,
        link: d.pick(['kafka', 'postgres'] as const),
        durationMs: d.range(p.partitionMs),
      };
    case 'latency': {
      const latencyMs = d.range(p.latencyMs);
      return {
        kind,
        link: d.pick(['kafka', 'postgres'] as const),
        latencyMs,
        jitterMs: Math.round(latencyMs / 4),
        durationMs: d.range(p.latencyForMs),
      };
    }
  }
}

export function generateSchedule(options: {
  seed: number;
  durationMs: number;
  profile?: ProfileName;
}): Schedule {
  const { seed, durationMs, profile = 'full' } = options;
  const p: Profile = PROFILES[profile];
  const d = new Draw(seed);
  // At least once each: a kill of every kind of service (a cell service in a drawn cell), the
  // relay of cell-1's orders mid-batch, and each link partitioned and slowed.
  const required: Fault[] = [
    ...PLATFORM_PROCESSES.map((target) => ({ kind: 'kill' as const, target })),
    ...CELL_SERVICES.map((s) => ({ kind: 'kill' as const, target: cellProcess(s, d.pick(CELLS)) })),
    { kind: 'kill-relay', target: cellProcess('orders', PROXIED_CELL) },
    draw('pause', d, p),
    draw('kafka-stop', d, p),
    draw('postgres-restart', d, p),
    draw('redis-stop', d, p),
    draw('control-plane-stop', d, p),
    draw('rewind-offsets', d, p),
    ...(['kafka', 'postgres'] as const).flatMap((link) => [
      { ...(draw('partition', d, p) as Extract<Fault, { kind: 'partition' }>), link },
      { ...(draw('latency', d, p) as Extract<Fault, { kind: 'latency' }>), link },
    ]),
  ];
  const faults: ScheduledFault[] = d
    .shuffle(required)
    .map((fault) => ({ ...fault, gapMs: d.range(p.gapMs) }));
  let estimatedMs = faults.reduce((n, f) => n + estimateMs(f), 0);
  for (;;) {
    const extra: ScheduledFault = { ...draw(d.pick(FAULT_KINDS), d, p), gapMs: d.range(p.gapMs) };
    if (estimatedMs + estimateMs(extra) > durationMs) break;
    faults.push(extra);
    estimatedMs += estimateMs(extra);
  }
  return { seed, durationMs, profile, estimatedMs, faults };
}

/** "5m", "90s", "1500ms" or a number of milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${JSON.stringify(text)} (e.g. 5m, 90s)`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? 'ms']!;
  return Math.round(Number(match[1]) * unit);
}
