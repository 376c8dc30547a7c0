import { z } from 'zod';
import { GrpcError, grpc, requestProblems, Status } from '@bulkhead/grpc';
import type { Logger } from '@bulkhead/logger';
import type { controlPlaneV1 } from '@bulkhead/contracts';
import {
  compareSnapshots,
  epochSchema,
  supersedes,
  type SnapshotPosition,
} from '@bulkhead/routing-snapshot';
import type { SnapshotFeed } from './snapshot-feed.js';

type Snapshot = controlPlaneV1.RoutingSnapshot;

/** WatchSnapshotRequest as the control plane accepts it: known_epoch is empty or an epoch. */
export const watchSnapshotRequestSchema = z.object({
  knownVersion: z.number().int().nonnegative(),
  knownEpoch: z.union([z.literal(''), epochSchema]),
  services: z.array(z.string()),
});

/** The snapshot as one watcher sees it: each cell with only the endpoints of `services` (all if empty). */
export function snapshotFor(snapshot: Snapshot, services: readonly string[]): Snapshot {
  if (services.length === 0) return snapshot;
  const wanted = new Set(services);
  return {
    ...snapshot,
    cells: snapshot.cells.map((cell) => ({
      id: cell.id,
      endpoints: Object.fromEntries(
        Object.entries(cell.endpoints).filter(([service]) => wanted.has(service)),
      ),
    })),
  };
}

/**
 * WatchSnapshot: sends the current snapshot when it supersedes what the watcher holds (its epoch
 * differs from known_epoch whatever the versions, or it is newer than known_version), then every
 * snapshot that supersedes the last one sent, each with only the endpoints of the services the
 * watcher asked for. A watcher ahead of the feed in its epoch is reported to the feed (the database
 * may have gone back in time: SnapshotFeed.reportAhead). A slow reader never makes snapshots pile
 * up: while its stream is backed up only the newest pending snapshot is kept (a newer one replaces
 * an older one entirely).
 */
export function watchSnapshotHandler(
  feed: SnapshotFeed,
  logger: Logger,
): grpc.handleServerStreamingCall<
  controlPlaneV1.WatchSnapshotRequest,
  controlPlaneV1.WatchSnapshotResponse
> {
  return (call) => {
    const problems = requestProblems(watchSnapshotRequestSchema, call.request);
    if (problems.length > 0) {
      // grpc-js ends a server stream that emits 'error' with that error's status.
      const invalid = new GrpcError(Status.INVALID_ARGUMENT, problems.join('; '));
      call.emit('error', invalid.toServiceError());
      return;
    }
    const { knownEpoch, knownVersion, services } = call.request;
    const known: SnapshotPosition = { epoch: knownEpoch, version: knownVersion };
    let sent = known;
    let backedUp = false;
    let pending: Snapshot | undefined;
    let done = false;

    const send = (snapshot: Snapshot): void => {
      if (done || !supersedes(sent, snapshot)) return;
      if (backedUp) {
        pending = snapshot;
        return;
      }
      sent = { epoch: snapshot.epoch, version: snapshot.version };
      backedUp = !call.write({ snapshot: snapshotFor(snapshot, services) });
    };
    call.on('drain', () => {
      backedUp = false;
      const next = pending;
      pending = undefined;
      if (next) send(next);
    });

    let unsubscribe: () => void = () => undefined;
    const finish = (): void => {
      done = true;
      unsubscribe();
    };
    unsubscribe = feed.subscribe({
      publish: send,
      end: () => {
        finish();
        call.end();
      },
    });
    if (done) return;
    call.on('cancelled', finish);
    call.on('close', finish);
    call.on('error', (error) => {
      logger.debug({ err: error }, 'watch stream failed');
      finish();
    });

    logger.debug({ knownEpoch, knownVersion, peer: call.getPeer() }, 'watch stream opened');
    // Headers now, so the client knows the stream is open even when it is already up to date.
    call.sendMetadata(new grpc.Metadata());
    const current = feed.current();
    if (current) send(current);
    // Ahead of this database in its epoch: it may have gone back in time (see reportAhead).
    if (current && compareSnapshots(current, known) === 'newer') feed.reportAhead(known);
  };
}
