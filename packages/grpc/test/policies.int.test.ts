import { afterEach, describe, expect, it } from 'vitest';
import { CircuitOpenError } from '@bulkhead/call-policy';
import { createLogger } from '@bulkhead/logger';
import { createMetrics, parseExposition, sampleValue } from '@bulkhead/metrics';
import {
  ADMISSION_REASONS,
  createGrpcClient,
  createGrpcServer,
  deadlineOf,
  GrpcError,
  Status,
  type grpc,
  type GrpcServer,
} from '../src/index.js';

/** A JSON echo service: the handler waits for `release` when asked to hold. */
interface EchoRequest {
  hold?: boolean;
}
interface EchoReply {
  deadline?: number;
}
const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  deserialize: (buffer: Buffer) => JSON.parse(buffer.toString()) as never,
};
const echoService = {
  echo: {
    path: '/bulkhead.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize as (value: EchoRequest) => Buffer,
    requestDeserialize: json.deserialize as (buffer: Buffer) => EchoRequest,
    responseSerialize: json.serialize as (value: EchoReply) => Buffer,
    responseDeserialize: json.deserialize as (buffer: Buffer) => EchoReply,
  },
} satisfies grpc.ServiceDefinition;

const open: { close(): unknown }[] = [];
const servers: GrpcServer[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.shutdown(100)));
});

async function echoServer(options: Parameters<typeof createGrpcServer>[0] = {}) {
  const server = createGrpcServer(options);
  servers.push(server);
  const held: (() => void)[] = [];
  let handled = 0;
  server.addService(echoService, {
    echo: (
      call: grpc.ServerUnaryCall<EchoRequest, EchoReply>,
      callback: grpc.sendUnaryData<EchoReply>,
    ) => {
      handled += 1;
      const answer = () => callback(null, { deadline: deadlineOf(call) });
      if (call.request.hold) held.push(answer);
      else answer();
    },
  });
  const port = await server.listen('127.0.0.1', 0);
  server.setServing(true);
  return {
    server,
    address: `127.0.0.1:${port}`,
    releaseAll: () => held.splice(0).forEach((answer) => answer()),
    held: () => held.length,
    handled: () => handled,
  };
}

function client(address: string, options: Parameters<typeof createGrpcClient>[2] = {}) {
  const c = createGrpcClient(echoService, address, options);
  open.push(c);
  return c;
}

describe('gRPC server admission', () => {
  it('answers RESOURCE_EXHAUSTED at once beyond maxInFlight, without running the handler', async () => {
    const metrics = createMetrics({ service: 'grpc-test', runtime: false });
    const echo = await echoServer({ maxInFlight: 2, metrics });
    const c = client(echo.address);
    const first = [c.echo({ hold: true }), c.echo({ hold: true })];
    while (echo.held() < 2) await new Promise((resolve) => setImmediate(resolve));
    const started = performance.now();
    const refused = await c.echo({}).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(100);
    expect(refused).toBeInstanceOf(GrpcError);
    expect(refused).toMatchObject({
      code: Status.RESOURCE_EXHAUSTED,
      reason: ADMISSION_REASONS.serverBusy,
    });
    expect(echo.handled()).toBe(2);
    expect(echo.server.state).toMatchObject({ inFlight: 2, maxInFlight: 2, refusedBusy: 1 });
    const samples = parseExposition(await metrics.scrape());
    expect(sampleValue(samples, 'grpc_server_shed_total', { grpc_method: 'Echo' })).toBe(1);
    expect(
      sampleValue(samples, 'grpc_server_handling_seconds_count', {
        grpc_method: 'Echo',
        grpc_code: 'RESOURCE_EXHAUSTED',
      }),
    ).toBe(1);
    echo.releaseAll();
    await Promise.all(first);
    await expect(c.echo({})).resolves.toBeDefined();
    expect(echo.server.state.inFlight).toBe(0);
  });

  it('propagates an absolute deadline to the server as given', async () => {
    const echo = await echoServer();
    const deadline = Date.now() + 1_500;
    const reply = await client(echo.address).echo({}, { deadline });
    expect(Math.abs((reply.deadline ?? 0) - deadline)).toBeLessThan(100);
  });
});

describe('gRPC client policies', () => {
  it('retries the streams a recycled connection refuses, transparently', async () => {
    // Connections live 50 ms: many calls race the server's GOAWAY.
    const echo = await echoServer({ maxConnectionAgeMs: 50 });
    const c = client(echo.address);
    const failures: unknown[] = [];
    const until = Date.now() + 2_000;
    let calls = 0;
    while (Date.now() < until) {
      const batch = Array.from({ length: 20 }, () => c.echo({}).catch((e: unknown) => e));
      for (const result of await Promise.all(batch)) {
        calls += 1;
        if (result instanceof Error) failures.push(result);
      }
    }
    expect(calls).toBeGreaterThan(200);
    expect(failures).toEqual([]);
  });

  it('opens the breaker of a failing downstream: refused at once with the time to wait', async () => {
    const echo = await echoServer();
    const address = echo.address;
    await Promise.all(servers.splice(0).map((s) => s.shutdown(0))); // nothing listens any more
    const c = client(address, {
      policy: { downstream: 'test/echo', logger: createLogger('policy', 'silent') },
    });
    const results = [];
    for (let i = 0; i < 30; i++) results.push(await c.echo({}).catch((e: unknown) => e));
    expect(results.some((r) => r instanceof GrpcError && r.code === Status.UNAVAILABLE)).toBe(true);
    expect(results.at(-1)).toBeInstanceOf(CircuitOpenError);
    expect(c.policyState()).toMatchObject({ downstream: 'test/echo', breaker: 'open' });
    const started = performance.now();
    await expect(c.echo({})).rejects.toBeInstanceOf(CircuitOpenError);
    expect(performance.now() - started).toBeLessThan(5);
  });
});
