import net from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createGrpcClient, createGrpcServer, type GrpcServer } from '../src/index.js';

/**
 * An endpoint whose first connections hang before the HTTP/2 handshake (accepted, never
 * answered: what a client sees when its connection was routed to a pod that just went away),
 * and whose later connections reach a real server once `heal()` is called. The first
 * `refuseFirst` connections are closed at once instead (a refused connection: nothing listens).
 */
async function flakyEndpoint(target: number, { refuseFirst = 0 } = {}) {
  let healed = false;
  const stuck: net.Socket[] = [];
  let attempts = 0;
  const server = net.createServer((socket) => {
    attempts++;
    if (attempts <= refuseFirst) {
      socket.destroy();
      return;
    }
    if (!healed) {
      stuck.push(socket);
      return;
    }
    const upstream = net.connect(target, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    heal: () => (healed = true),
    attempts: () => attempts,
    close: () => {
      stuck.forEach((s) => s.destroy());
      server.close();
    },
  };
}

/** grpc.health.v1 Check, typed as the unary method it is. */
const health = {
  Check: healthService.Check as grpc.MethodDefinition<{ service: string }, { status: string }> & {
    requestStream: false;
    responseStream: false;
  },
};

let grpcServer: GrpcServer | undefined;
afterEach(async () => {
  await grpcServer?.shutdown(100);
});

describe('createGrpcClient connect timeout', () => {
  it('replaces a channel whose connection attempt hangs, so calls reach the server', async () => {
    grpcServer = createGrpcServer();
    const port = await grpcServer.listen('127.0.0.1', 0);
    grpcServer.setServing(true);
    const endpoint = await flakyEndpoint(port);
    const client = createGrpcClient(health, `127.0.0.1:${endpoint.port}`, {
      connectTimeoutMs: 300,
    });
    try {
      // The first attempt hangs; it is the endpoint that heals, not the stuck connection.
      const first = client.Check({ service: '' }, { deadlineMs: 10_000 });
      await expect.poll(() => endpoint.attempts()).toBeGreaterThanOrEqual(1);
      endpoint.heal();
      const started = Date.now();
      const answer = await first.catch(() => client.Check({ service: '' }, { deadlineMs: 10_000 }));
      expect(answer).toMatchObject({ status: 'SERVING' });
      // Well before the 10 s deadline: the stuck attempt was given up after ~300 ms.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(endpoint.attempts()).toBeGreaterThanOrEqual(2);
    } finally {
      client.close();
      endpoint.close();
    }
  });

  it('also replaces it when the hanging attempt is a reconnect after a refused one', async () => {
    // Seen on kind when the control plane's pods were replaced: the first reconnect was refused
    // (the old pod closing), the next was routed to the pod just gone and hung. The channel
    // stays in TRANSIENT_FAILURE meanwhile (grpc-js keeps it there until an attempt succeeds),
    // so every call fails at once with the refusal's error while the attempt hangs for ~2 min.
    grpcServer = createGrpcServer();
    const port = await grpcServer.listen('127.0.0.1', 0);
    grpcServer.setServing(true);
    const endpoint = await flakyEndpoint(port, { refuseFirst: 1 });
    const client = createGrpcClient(health, `127.0.0.1:${endpoint.port}`, {
      connectTimeoutMs: 300,
      channelOptions: { 'grpc.initial_reconnect_backoff_ms': 50 },
    });
    try {
      await expect(client.Check({ service: '' })).rejects.toMatchObject({ code: 14 });
      // The reconnect (after 50 ms) hangs; then the endpoint heals.
      await expect.poll(() => endpoint.attempts()).toBeGreaterThanOrEqual(2);
      endpoint.heal();
      const started = Date.now();
      let answer: unknown;
      while (answer === undefined && Date.now() - started < 5_000) {
        answer = await client.Check({ service: '' }).catch(async () => {
          await new Promise((resolve) => setTimeout(resolve, 100));
          return undefined;
        });
      }
      expect(answer).toMatchObject({ status: 'SERVING' });
      expect(endpoint.attempts()).toBeGreaterThanOrEqual(3);
    } finally {
      client.close();
      endpoint.close();
    }
  });

  it('without the timeout, a call on a hanging connection waits for its whole deadline', async () => {
    const endpoint = await flakyEndpoint(1);
    const client = createGrpcClient(health, `127.0.0.1:${endpoint.port}`, {
      connectTimeoutMs: 60_000,
    });
    try {
      const started = Date.now();
      await expect(client.Check({ service: '' }, { deadlineMs: 800 })).rejects.toMatchObject({
        code: 4, // DEADLINE_EXCEEDED
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(700);
      expect(endpoint.attempts()).toBe(1);
    } finally {
      client.close();
      endpoint.close();
    }
  });
});
