import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { backoffDelay, type BackoffOptions } from '@bulkhead/backoff';
import type { Logger } from '@bulkhead/logger';

export interface ListenHandlers {
  /** Called for each NOTIFY on the channel (after the notifying transaction committed). */
  onNotify(payload: string | undefined): void;
  /** Called after a lost connection is back: notifications sent meanwhile were missed. */
  onReconnect?(): void;
}

export interface Listener {
  /** Stops listening and closes the connection. */
  close(): Promise<void>;
}

/** Reconnects right away, then after 100 ms, 200 ms, … up to 5 s, jittered. */
const RECONNECT: BackoffOptions = { initialMs: 100, maxMs: 5_000, jitter: true };

/**
 * LISTENs on a channel over a dedicated connection (a pooled one would be handed to others)
 * with the pool's server and credentials, and keeps listening: a lost connection is re-opened
 * with backoff, and onReconnect tells the caller to catch up on what it may have missed.
 * Resolves once listening; rejects if the first connection fails.
 */
export async function listen(
  pool: pg.Pool,
  channel: string,
  handlers: ListenHandlers,
  logger: Logger,
): Promise<Listener> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name: ${channel}`);
  const abort = new AbortController();
  const closed = new Promise<undefined>((resolve) =>
    abort.signal.addEventListener('abort', () => resolve(undefined), { once: true }),
  );

  async function connect(): Promise<{ client: pg.Client; lost: Promise<Error> }> {
    const client = new pg.Client({
      ...pool.options,
      application_name: `${pool.options.application_name ?? 'bulkhead'} listen ${channel}`,
    });
    // Also the 'error' listener without which a dropped connection would crash the process.
    const lost = new Promise<Error>((resolve) => {
      client.on('error', resolve);
      client.on('end', () => resolve(new Error('LISTEN connection closed')));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    client.on('notification', (notification) => handlers.onNotify(notification.payload));
    return { client, lost };
  }

  let current = await connect();
  const keepListening = (async () => {
    for (;;) {
      const lost = await Promise.race([current.lost, closed]);
      await current.client.end().catch(() => undefined);
      if (!lost) return; // closed
      logger.warn({ err: lost, channel }, 'LISTEN connection lost; reconnecting');
      for (let attempt = 1; ; attempt++) {
        try {
          current = await connect();
          break;
        } catch (error) {
          const retryInMs = backoffDelay(attempt, RECONNECT);
          logger.warn({ err: error, channel, retryInMs }, 'LISTEN reconnect failed');
          await sleep(retryInMs, undefined, { signal: abort.signal }).catch(() => undefined);
          if (abort.signal.aborted) return;
        }
      }
      logger.info({ channel }, 'LISTEN connection re-established');
      handlers.onReconnect?.();
    }
  })();

  return {
    close: async () => {
      abort.abort();
      await keepListening;
    },
  };
}
