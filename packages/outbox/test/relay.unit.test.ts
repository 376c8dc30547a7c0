import { describe, expect, it } from 'vitest';
import { splitByTraceContext, type OutboxRow } from '../src/relay.js';

function row(seq: number, traceparent: string | null, tracestate: string | null = null): OutboxRow {
  return {
    seq,
    message_id: `id-${seq}`,
    topic: 't',
    message_key: 'k',
    message_type: 'x',
    payload: Buffer.alloc(0),
    tenant_id: 'tenant',
    cell_id: 'cell',
    correlation_id: 'c',
    causation_id: null,
    traceparent,
    tracestate,
    created_at: new Date(0),
  };
}

const A = '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-aaaaaaaaaaaaaaaa-01';
const B = '00-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-bbbbbbbbbbbbbbbb-01';

describe('splitByTraceContext', () => {
  it('keeps rows without trace context together (tracing off: one publish per round)', () => {
    const runs = splitByTraceContext([row(1, null), row(2, null), row(3, null)]);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.carrier).toEqual({});
    expect(runs[0]?.rows.map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it('splits at every change of context and keeps seq order', () => {
    const runs = splitByTraceContext([row(1, A), row(2, A), row(3, B), row(4, A), row(5, A, 'v=1')]);
    expect(runs.map((run) => run.rows.map((r) => r.seq))).toEqual([[1, 2], [3], [4], [5]]);
    expect(runs.map((run) => run.carrier)).toEqual([
      { traceparent: A },
      { traceparent: B },
      { traceparent: A },
      { traceparent: A, tracestate: 'v=1' },
    ]);
  });

  it('returns no runs for no rows', () => {
    expect(splitByTraceContext([])).toEqual([]);
  });
});
