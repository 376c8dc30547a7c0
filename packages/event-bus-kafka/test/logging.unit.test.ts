import { Writable } from 'node:stream';
import { logLevel, type LogEntry } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { isNoisyRetriable, kafkaLogCreator } from '../src/logging.js';

function entry(level: logLevel, message: string, extra: Record<string, unknown> = {}): LogEntry {
  return {
    namespace: 'Connection',
    level,
    label: logLevel[level],
    log: { timestamp: '2026-01-01T00:00:00.000Z', message, ...extra },
  };
}

describe('kafkajs logging', () => {
  it('recognises the retriable errors kafkajs logs at ERROR', () => {
    const loading = entry(logLevel.ERROR, 'Response GroupCoordinator(key: 10, version: 2)', {
      error: "The coordinator is loading and hence can't process requests for this group",
    });
    expect(isNoisyRetriable(loading)).toBe(true);
    expect(isNoisyRetriable(entry(logLevel.ERROR, 'The group is rebalancing, re-joining'))).toBe(
      true,
    );
    expect(isNoisyRetriable(entry(logLevel.ERROR, 'Connection error: connect ECONNREFUSED'))).toBe(
      false,
    );
    // The producer bounds its retries on purpose (producer.ts): kafkajs's warning is expected.
    const bounded = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';
    expect(isNoisyRetriable(entry(logLevel.WARN, bounded))).toBe(true);
  });

  it('writes entries to pino at their level, noisy ones at debug', () => {
    const lines: Array<{ level: number; msg: string; namespace: string; error?: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
        done();
      },
    });
    const log = kafkaLogCreator(pino({ level: 'debug' }, sink))(logLevel.WARN);
    log(entry(logLevel.ERROR, 'Connection error: connect ECONNREFUSED'));
    log(entry(logLevel.WARN, 'Consumer group received unsubscribed topics'));
    log(
      entry(logLevel.ERROR, 'Response Metadata', {
        error: 'The group coordinator is not available',
      }),
    );
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [50, 'Connection error: connect ECONNREFUSED'],
      [40, 'Consumer group received unsubscribed topics'],
      [20, 'Response Metadata'],
    ]);
    expect(lines[2]).toMatchObject({
      namespace: 'Connection',
      error: 'The group coordinator is not available',
    });
  });
});
