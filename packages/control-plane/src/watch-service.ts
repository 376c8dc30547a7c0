import { grpc } from '@bulkhead/grpc';
import type { Logger } from '@bulkhead/logger';
import type { controlPlaneV1 } from '@bulkhead/contracts';
import type { SnapshotFeed } from './snapshot-feed.js';

type Snapshot = controlPlaneV1.RoutingSnapshot;

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
 * WatchSnapshot: sends the current snapshot when it is newer than known_version, then every newer
 * version, each with only the endpoints of the services the watcher asked for. A slow reader
 * never makes snapshots pile up: while its stream is backed up only the
 * newest pending snapshot is kept (a newer version replaces an older one entirely).
 */
export function watchSnapshotHandler(
  feed: SnapshotFeed,
  logger: Logger,
): grpc.handleServerStreamingCall<
  controlPlaneV1.WatchSnapshotRequest,
  controlPlaneV1.WatchSnapshotResponse
> {
  return (call) => {
    let sentVersion = call.request.knownVersion;
    let backedUp = false;
    let pending: Snapshot | undefined;
    let done = false;

    const send = (snapshot: Snapshot): void => {
      if (done || snapshot.version <= sentVersion) return;
      if (backedUp) {
        pending = snapshot;
        return;
      }
      sentVersion = snapshot.version;
      backedUp = !call.write({ snapshot: snapshotFor(snapshot, call.request.services) });
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

    logger.debug(
      { knownVersion: call.request.knownVersion, peer: call.getPeer() },
      'watch stream opened',
    );
    // Headers now, so the client knows the stream is open even when it is already up to date.
    call.sendMetadata(new grpc.Metadata());
    const current = feed.current();
    if (current) send(current);
  };
}
