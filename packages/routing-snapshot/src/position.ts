import type { Logger } from '@bulkhead/logger';

/**
 * Where a snapshot stands: the epoch of the control-plane state it comes from and its version
 * within that epoch. An absent or empty epoch is unknown (a file written by an agent that
 * predates epochs, a request from such an agent, a control plane that does not send one).
 */
export interface SnapshotPosition {
  readonly epoch?: string | undefined;
  readonly version: number;
}

/**
 * How a snapshot relates to the one held:
 * - `first`: nothing is held yet;
 * - `new-epoch`: it comes from another control-plane state (the database was replaced): its
 *   version says nothing about the one held, so it replaces it whatever the versions;
 * - `newer`: same epoch, higher version;
 * - `stale`: same epoch, same or lower version.
 */
export type SnapshotRelation = 'first' | 'new-epoch' | 'newer' | 'stale';

const epochOf = (position: SnapshotPosition): string | undefined => position.epoch || undefined;

/**
 * The one rule for replacing a snapshot, used by the control plane (what to send a watcher), the
 * config agent (what to write) and the gateway (what to load). An unknown epoch equals only
 * another unknown epoch, so snapshots without epochs keep comparing by version alone, and the
 * first snapshot with an epoch replaces one without.
 */
export function compareSnapshots(
  held: SnapshotPosition | undefined,
  next: SnapshotPosition,
): SnapshotRelation {
  if (held === undefined) return 'first';
  if (epochOf(held) !== epochOf(next)) return 'new-epoch';
  return next.version > held.version ? 'newer' : 'stale';
}

/** Whether `next` replaces `held` (anything but `stale`). */
export function supersedes(held: SnapshotPosition | undefined, next: SnapshotPosition): boolean {
  return compareSnapshots(held, next) !== 'stale';
}

/**
 * Logs that `next` replaces `held` because its epoch differs: a warning when `held` had an epoch
 * (the control plane's state was replaced: a fresh, lost or restored database), info when it had
 * none (written before epochs: an upgrade). `what` names the copy replaced (the file, the table).
 */
export function logNewEpoch(
  logger: Logger,
  what: string,
  held: SnapshotPosition,
  next: SnapshotPosition,
): void {
  const detail = {
    previousEpoch: epochOf(held),
    previousVersion: held.version,
    epoch: epochOf(next),
    version: next.version,
  };
  if (epochOf(held) === undefined) {
    logger.info(detail, `${what}: first routing snapshot with an epoch replaces one without`);
  } else {
    logger.warn(
      detail,
      `${what}: the control plane's state has a new epoch (its database was replaced); replacing the routing snapshot whatever the versions`,
    );
  }
}
