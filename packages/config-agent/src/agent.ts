import { setTimeout as sleep } from 'node:timers/promises';
import { controlPlaneV1 } from '@bulkhead/contracts';
import { createGrpcClient, Status, type grpc, type GrpcClient } from '@bulkhead/grpc';
import type { Logger } from '@bulkhead/logger';
import { createMetrics, type Metrics } from '@bulkhead/metrics';
import {
  compareSnapshots,
  logNewEpoch,
  readSnapshotFile,
  writeSnapshotFile,
  type RoutingSnapshot,
  type SnapshotPosition,
} from '@bulkhead/routing-snapshot';
import type { App } from '@bulkhead/service-runtime';
import { backoffDelay, type BackoffOptions } from '@bulkhead/backoff';
import type { ConfigAgentConfig } from './config.js';
import { snapshotFromProto } from './snapshot-proto.js';

export interface ConfigAgentApp extends App {
  /** Version of the snapshot file on disk (0 when there is none yet). */
  snapshotVersion(): number;
}

/** Reconnect delays: 100 ms growing to 5 s, jittered so agents restarted together spread out. */
const RECONNECT: BackoffOptions = { initialMs: 100, maxMs: 5_000, jitter: true };

export interface ConfigAgentDeps {
  logger: Logger;
  /** The app's metrics (default: a registry of its own, labelled service="config-agent"). */
  metrics?: Metrics;
}

/** Epoch and version only: what is compared, without holding on to the whole snapshot. */
const position = ({ epoch, version }: RoutingSnapshot): SnapshotPosition => ({ epoch, version });

type WatchClient = GrpcClient<typeof controlPlaneV1.ControlPlaneServiceService>;

/** How one WatchSnapshot call ended. */
interface WatchOutcome {
  /** The control plane answered (sent headers): the connection worked. */
  opened: boolean;
  /** Cancelled because it was not opened within WATCH_OPEN_TIMEOUT_MS. */
  openTimedOut: boolean;
  status: grpc.StatusObject;
}

/**
 * The config-agent sidecar: keeps the routing snapshot file next to the gateway up to date by
 * watching the control plane (server push, not polling). Each snapshot that supersedes the one
 * held (a newer version of the same epoch, or any version of another epoch: the control plane's
 * database was replaced) is validated and written atomically. When the control plane is
 * unreachable the file simply stays as it is and the agent keeps retrying: the data plane goes on
 * serving the last snapshot (static stability).
 */
export function createConfigAgentApp(
  config: ConfigAgentConfig,
  deps: ConfigAgentDeps,
): ConfigAgentApp {
  const { logger } = deps;
  const path = config.snapshotPath;
  const abort = new AbortController();
  let client: WatchClient | undefined;
  let call: grpc.ClientReadableStream<controlPlaneV1.WatchSnapshotResponse> | undefined;
  let loop: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  /** Epoch and version of the file on disk; undefined while there is none. */
  let onDisk: SnapshotPosition | undefined;
  /** The newest snapshot accepted for writing (on disk, being written, or queued). */
  let accepted: SnapshotPosition | undefined;
  /** Only the newest snapshot waiting to be written is kept; older ones are skipped. */
  let queued: RoutingSnapshot | undefined;
  let writing: Promise<void> | undefined;
  /** True while a watch stream is open (the control plane took it and it has not ended). */
  let watching = false;

  const metrics = deps.metrics ?? createMetrics({ service: 'config-agent' });
  metrics.gauge({
    name: 'config_agent_snapshot_version',
    help: 'Version of the routing snapshot the agent last wrote (0 before the first)',
    collect() {
      this.set(onDisk?.version ?? 0);
    },
  });
  metrics.gauge({
    name: 'config_agent_watch_up',
    help: '1 while the watch stream to the control plane is open',
    collect() {
      this.set(watching ? 1 : 0);
    },
  });

  function receive(message: controlPlaneV1.WatchSnapshotResponse): void {
    if (!message.snapshot) return;
    const relation = compareSnapshots(accepted, message.snapshot);
    if (relation === 'stale') return;
    let snapshot: RoutingSnapshot;
    try {
      snapshot = snapshotFromProto(message.snapshot);
    } catch (error) {
      logger.error(
        { err: error, epoch: message.snapshot.epoch, version: message.snapshot.version },
        'invalid snapshot from the control plane; ignored',
      );
      return;
    }
    if (relation === 'new-epoch' && accepted)
      logNewEpoch(logger, 'config agent', accepted, snapshot);
    accepted = position(snapshot);
    queued = snapshot;
    writing ??= writeQueued().finally(() => {
      writing = undefined;
    });
  }

  async function writeQueued(): Promise<void> {
    for (let next = queued; next; next = queued) {
      queued = undefined;
      try {
        await writeSnapshotFile(path, next);
        onDisk = position(next);
        logger.info(
          { epoch: next.epoch, version: next.version, tenants: next.tenants.length, path },
          'routing snapshot written',
        );
      } catch (error) {
        logger.error(
          { err: error, path },
          'cannot write the routing snapshot; re-watching to get it again',
        );
        // Re-open the stream with what is on disk, so the control plane sends the newest again.
        queued = undefined;
        accepted = onDisk;
        call?.cancel();
      }
    }
  }

  /** One WatchSnapshot call, from open to status (deadline, error, server end or cancel). */
  function watchOnce(watchClient: WatchClient, onOpen: () => void): Promise<WatchOutcome> {
    return new Promise((resolve) => {
      let opened = false;
      let openTimedOut = false;
      // createGrpcClient gives the call its deadline (WATCH_DEADLINE_MS).
      const stream = watchClient.watchSnapshot({
        knownEpoch: onDisk?.epoch ?? '',
        knownVersion: onDisk?.version ?? 0,
        services: config.snapshotServices,
      });
      call = stream;
      // A call the control plane never opens is cancelled and tried again on a new channel: the
      // control plane sends headers as soon as it takes a watch. A connection attempt nobody
      // answers (on kind: one routed to a control-plane pod just replaced; 131 s once) is
      // createGrpcClient's connect guard's to end; this covers a connection that is up to
      // something that never takes the watch.
      const openTimer = setTimeout(() => {
        logger.warn(
          { address: config.controlPlaneAddress, openTimeoutMs: config.watchOpenTimeoutMs },
          'the control plane did not take the watch in time; trying again on a new connection',
        );
        openTimedOut = true;
        stream.cancel();
      }, config.watchOpenTimeoutMs);
      stream.on('metadata', () => {
        clearTimeout(openTimer);
        opened = true;
        watching = true;
        onOpen();
      });
      stream.on('data', receive);
      stream.on('error', () => undefined); // the status event below carries the outcome
      stream.on('status', (status: grpc.StatusObject) => {
        clearTimeout(openTimer);
        watching = false;
        if (call === stream) call = undefined;
        resolve({ opened, openTimedOut, status });
      });
    });
  }

  /** Watches until stopped; reconnects with capped exponential backoff and logs only state changes. */
  async function watchLoop(): Promise<void> {
    let failures = 0;
    let connected: boolean | undefined;
    while (!abort.signal.aborted) {
      client ??= openClient();
      const { opened, openTimedOut, status } = await watchOnce(client, () => {
        if (connected !== true) {
          logger.info(
            { address: config.controlPlaneAddress, epoch: onDisk?.epoch, version: onDisk?.version },
            'watching the control plane',
          );
        }
        connected = true;
        failures = 0;
      });
      if (abort.signal.aborted) break;
      if (openTimedOut) {
        // Whatever holds the channel (a connection attempt to a gone address, a dead
        // connection) holds it for the next call too: a new channel connects afresh.
        client.close();
        client = undefined;
      }
      if (opened && status.code === Status.DEADLINE_EXCEEDED) {
        logger.debug('watch deadline reached; re-opening the stream');
        continue;
      }
      const detail = {
        code: Status[status.code],
        details: status.details,
        epoch: onDisk?.epoch,
        version: onDisk?.version,
      };
      if (connected === true) {
        logger.warn(
          detail,
          'watch stream ended; keeping the snapshot file as it is and reconnecting',
        );
      } else if (connected === undefined) {
        logger.warn(
          detail,
          'control plane unreachable; keeping the snapshot file as it is and retrying',
        );
      } else {
        logger.debug({ ...detail, attempt: failures }, 'control plane still unreachable');
      }
      connected = false;
      await sleep(backoffDelay(++failures, RECONNECT), undefined, {
        signal: abort.signal,
      }).catch(() => undefined);
    }
  }

  /** The channel's reconnect backoff matches ours, so a reconnect is not held back by grpc-js. */
  function openClient(): WatchClient {
    return createGrpcClient(controlPlaneV1.ControlPlaneServiceService, config.controlPlaneAddress, {
      deadlineMs: config.watchDeadlineMs,
      channelOptions: {
        'grpc.initial_reconnect_backoff_ms': RECONNECT.initialMs,
        'grpc.max_reconnect_backoff_ms': RECONNECT.maxMs,
      },
    });
  }

  async function start(): Promise<void> {
    if (loop) throw new Error('the config agent is already started');
    try {
      const existing = await readSnapshotFile(path);
      if (existing) {
        onDisk = accepted = position(existing);
        logger.info(
          { epoch: existing.epoch, version: existing.version, path },
          'existing routing snapshot found',
        );
      }
    } catch (error) {
      logger.warn(
        { err: error, path },
        'existing routing snapshot is unreadable; waiting for a new one',
      );
    }
    loop = watchLoop();
  }

  async function stop(): Promise<void> {
    abort.abort();
    call?.cancel();
    await loop;
    await writing;
    client?.close();
  }

  return {
    start,
    stop: () => (stopping ??= stop()),
    isReady: () => onDisk !== undefined && !abort.signal.aborted,
    metrics,
    snapshotVersion: () => onDisk?.version ?? 0,
  };
}
