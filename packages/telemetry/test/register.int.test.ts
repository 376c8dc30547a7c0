/**
 * What `node --import @bulkhead/telemetry/register` installs, in a process of its own (the
 * globals and module hooks are per process): without an exporter nothing at all — no import
 * hook, no wrapped module, the API's proxy tracer provider with no delegate —, with one the SDK,
 * its instrumentations and hook, and head sampling from the standard variables. Needs the build
 * (the register module as services load it: dist/register.js). No infrastructure: nothing is
 * exported (the endpoint is a closed port; the probe ends no span).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REGISTER = fileURLToPath(new URL('../dist/register.js', import.meta.url));
const RECORD_HOOKS = fileURLToPath(new URL('./fixtures/record-hooks.mjs', import.meta.url));
const PROBE = fileURLToPath(new URL('./fixtures/probe.mjs', import.meta.url));
const HOOK = '@opentelemetry/instrumentation/hook.mjs';
// Nothing listens there (the tests' port range); the probe exports nothing anyway.
const ENDPOINT = 'http://127.0.0.1:18509';

interface Probe {
  hooks: string[];
  httpRequestWrapped: boolean;
  httpGetWrapped: boolean;
  httpsRequestWrapped: boolean;
  provider: string;
  delegate: string | null;
  rootRecording: boolean;
  childOfSampledRecording: boolean;
  injected: string[];
  contextManager: boolean;
}

/** Runs the probe in a fresh node with the register module preloaded, under env (OTEL_* only). */
async function probe(env: Record<string, string>): Promise<Probe> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('OTEL_')),
  );
  const { stdout } = await run(
    process.execPath,
    ['--import', RECORD_HOOKS, '--import', REGISTER, PROBE],
    { env: { ...clean, ...env }, timeout: 20_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Probe;
}

describe('@bulkhead/telemetry/register', () => {
  it('installs nothing without an exporter: no hook, no instrumentation, the no-op API', async () => {
    const off = await probe({ OTEL_SERVICE_NAME: 'probe' });
    expect(off).toEqual({
      hooks: [],
      httpRequestWrapped: false,
      httpGetWrapped: false,
      httpsRequestWrapped: false,
      provider: 'ProxyTracerProvider',
      delegate: 'NoopTracerProvider',
      rootRecording: false,
      childOfSampledRecording: false,
      injected: [],
      contextManager: false,
    });
  });

  it('installs nothing either when OTEL_SDK_DISABLED is true, exporter or not', async () => {
    const disabled = await probe({
      OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT,
      OTEL_SDK_DISABLED: 'true',
    });
    expect(disabled).toMatchObject({
      hooks: [],
      httpRequestWrapped: false,
      delegate: 'NoopTracerProvider',
    });
  });

  it('with an exporter: the hook, the instrumentations, the SDK, every trace sampled', async () => {
    const on = await probe({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT });
    // The SDK's provider behind the proxy (its class name as bundled: TracerProvider$1).
    expect(on.delegate).toMatch(/^TracerProvider/);
    expect({ ...on, delegate: 'the SDK' }).toEqual({
      hooks: [HOOK],
      httpRequestWrapped: true,
      httpGetWrapped: true,
      httpsRequestWrapped: true,
      provider: 'ProxyTracerProvider',
      delegate: 'the SDK',
      rootRecording: true,
      childOfSampledRecording: true,
      injected: ['traceparent'],
      contextManager: true,
    });
  });

  it('head-samples as OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG say', async () => {
    const ratio = (arg: string) =>
      probe({
        OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: arg,
      });
    // Ratio 0: no new trace is recorded, but one that arrives sampled still is (parent-based).
    expect(await ratio('0')).toMatchObject({ rootRecording: false, childOfSampledRecording: true });
    expect(await ratio('1')).toMatchObject({ rootRecording: true, childOfSampledRecording: true });
    const alwaysOff = await probe({
      OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT,
      OTEL_TRACES_SAMPLER: 'always_off',
    });
    expect(alwaysOff).toMatchObject({ rootRecording: false, childOfSampledRecording: false });
    // Still instrumented, still propagating: an unsampled trace keeps its ids downstream.
    expect(alwaysOff).toMatchObject({ httpRequestWrapped: true, injected: ['traceparent'] });
  });
});
