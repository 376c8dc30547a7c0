// The collector's tail-sampling policies (charts/bulkhead/files/observability/otel-collector.yaml)
// against a real collector and Jaeger that infra/local/observability.sh check starts on private
// ports with a baseline share of 0%: a trace with an error span, a slow trace and a compensated
// saga must reach Jaeger; a plain fast trace must not. Plain Node, no dependencies.
// Usage: node sampling-check.mjs <collector OTLP/HTTP URL> <Jaeger query URL> <slow threshold ms>
import { randomBytes } from 'node:crypto';

const [collector, jaeger, slowMs] = process.argv.slice(2);
if (!collector || !jaeger || !slowMs) {
  console.error('usage: sampling-check.mjs COLLECTOR_OTLP_HTTP_URL JAEGER_QUERY_URL SLOW_MS');
  process.exit(2);
}

const hex = (bytes) => randomBytes(bytes).toString('hex');
const nowNs = BigInt(Date.now()) * 1_000_000n;
const attr = (key, value) => ({ key, value: { stringValue: value } });

/** One single-span trace: its id, and the OTLP/JSON span. */
function trace(name, { durationMs = 5, error = false, attributes = [] } = {}) {
  const traceId = hex(16);
  const start = nowNs - BigInt(durationMs) * 1_000_000n;
  return {
    name,
    traceId,
    span: {
      traceId,
      spanId: hex(8),
      name,
      kind: 2,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(nowNs),
      attributes,
      status: error ? { code: 2, message: 'failed' } : { code: 0 },
    },
  };
}

async function send(traces) {
  const response = await fetch(`${collector}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [attr('service.name', 'sampling-check')] },
          scopeSpans: [{ spans: traces.map((t) => t.span) }],
        },
      ],
    }),
  });
  if (!response.ok) throw new Error(`collector refused spans: ${response.status}`);
}

const inJaeger = async (t) => (await fetch(`${jaeger}/api/traces/${t.traceId}`)).status === 200;

const plain = trace('a plain fast one');
const kept = [
  trace('one with an error span', { error: true }),
  trace(`one slower than ${slowMs} ms`, { durationMs: Number(slowMs) + 1000 }),
  trace('a compensated saga', { attributes: [attr('bulkhead.saga.outcome', 'compensated')] }),
];
// The plain trace first: it is decided no later than the others, so once they are stored in
// Jaeger its decision is made too.
await send([plain]);
await send(kept);

let passed = 0;
let failed = 0;
const check = (ok, what) => {
  if (ok) passed++;
  else failed++;
  console.error(`[bulkhead] ${ok ? 'ok' : 'FAILED'}: ${what}`);
};
const deadline = Date.now() + 30_000;
const missing = new Set(kept);
while (missing.size > 0 && Date.now() < deadline) {
  for (const t of [...missing]) if (await inJaeger(t)) missing.delete(t);
  if (missing.size > 0) await new Promise((resolve) => setTimeout(resolve, 200));
}
for (const t of kept) check(!missing.has(t), `kept: ${t.name} (trace ${t.traceId})`);
check(!(await inJaeger(plain)), `dropped at a 0% baseline: ${plain.name} (trace ${plain.traceId})`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
