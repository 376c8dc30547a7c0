import { Writable } from 'node:stream';
import { ROOT_CONTEXT, context, trace, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/index.js';

function recorded(): { lines: Record<string, unknown>[]; sink: Writable } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, sink };
}

const active: SpanContext = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: 1,
};

describe('createLogger', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterAll(() => context.disable());

  it('puts the trace and span ids of the active span on every line inside it', async () => {
    const { lines, sink } = recorded();
    const logger = createLogger('svc', 'info', sink);
    await context.with(trace.setSpanContext(ROOT_CONTEXT, active), async () => {
      logger.info('first');
      await Promise.resolve(); // still inside after an await
      logger.child({ component: 'c' }).warn({ n: 1 }, 'second');
    });
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatchObject({
        service: 'svc',
        trace_id: active.traceId,
        span_id: active.spanId,
      });
    }
    expect(lines[1]).toMatchObject({ component: 'c', n: 1, msg: 'second', level: 'warn' });
  });

  it('writes no ids outside a span, nor for an invalid span context', () => {
    const { lines, sink } = recorded();
    const logger = createLogger('svc', 'info', sink);
    logger.info({ a: 1 }, 'outside');
    logger.info({ b: 2 }, 'outside again'); // the fields of one line do not leak into the next
    const invalid = { ...active, traceId: '0'.repeat(32) };
    context.with(trace.setSpanContext(ROOT_CONTEXT, invalid), () => logger.info('invalid'));
    expect(lines.map((l) => l.msg)).toEqual(['outside', 'outside again', 'invalid']);
    expect(lines[1]).not.toHaveProperty('a');
    for (const line of lines) {
      expect(line).not.toHaveProperty('trace_id');
      expect(line).not.toHaveProperty('span_id');
    }
  });
});
