import { describe, expect, it } from 'vitest';
import {
  CELL_SERVICES,
  FAULT_KINDS,
  KAFKA_STOP_MS,
  PLATFORM_PROCESSES,
  generateSchedule,
  parseDuration,
  type Schedule,
} from '../src/index.js';

const FIVE_MINUTES = 300_000;
const kindsOf = (s: Schedule) => new Set(s.faults.map((f) => f.kind));
/** Which kinds of service a schedule kills: gateway, control-plane, config-agent, orders, … */
const killedKinds = (s: Schedule) =>
  new Set(s.faults.flatMap((f) => (f.kind === 'kill' ? [f.target.replace(/-cell-\d+$/, '')] : [])));

describe('the fault schedule', () => {
  it('is the same for the same seed, and differs for another seed', () => {
    const one = generateSchedule({ seed: 1, durationMs: FIVE_MINUTES });
    expect(generateSchedule({ seed: 1, durationMs: FIVE_MINUTES })).toEqual(one);
    expect(JSON.stringify(generateSchedule({ seed: 1, durationMs: FIVE_MINUTES }))).toBe(
      JSON.stringify(one),
    );
    for (const seed of [2, 3, 1_000]) {
      expect(generateSchedule({ seed, durationMs: FIVE_MINUTES }).faults).not.toEqual(one.faults);
    }
  });

  it.each([
    ['full', FIVE_MINUTES],
    ['short', 60_000],
  ] as const)(
    'runs every kind at least once (%s profile, even in a short run)',
    (profile, durationMs) => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const s = generateSchedule({ seed, durationMs, profile });
        expect([...kindsOf(s)].sort()).toEqual([...FAULT_KINDS].sort());
        expect([...killedKinds(s)].sort()).toEqual(
          [...PLATFORM_PROCESSES, ...CELL_SERVICES].sort(),
        );
        for (const link of ['kafka', 'postgres']) {
          expect(s.faults.some((f) => f.kind === 'partition' && f.link === link)).toBe(true);
          expect(s.faults.some((f) => f.kind === 'latency' && f.link === link)).toBe(true);
        }
        expect(s.faults.some((f) => f.kind === 'kill-relay' && f.target === 'orders-cell-1')).toBe(
          true,
        );
      }
    },
  );

  it('pauses longer than the Kafka session (10 s) and stops the broker for 30 s', () => {
    for (const profile of ['full', 'short'] as const) {
      const s = generateSchedule({ seed: 7, durationMs: FIVE_MINUTES, profile });
      for (const f of s.faults) {
        if (f.kind === 'pause') expect(f.durationMs).toBeGreaterThan(10_000);
        if (f.kind === 'kafka-stop') expect(f.durationMs).toBe(KAFKA_STOP_MS);
      }
    }
  });

  it('fills a longer run with more faults, within its duration', () => {
    const short = generateSchedule({ seed: 1, durationMs: FIVE_MINUTES });
    const long = generateSchedule({ seed: 1, durationMs: 4 * FIVE_MINUTES });
    expect(long.faults.length).toBeGreaterThan(short.faults.length);
    expect(long.estimatedMs).toBeLessThanOrEqual(4 * FIVE_MINUTES);
  });

  it('reads durations', () => {
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1500ms')).toBe(1_500);
    expect(parseDuration('2500')).toBe(2_500);
    expect(() => parseDuration('5 minutes')).toThrow(/not a duration/);
  });
});
