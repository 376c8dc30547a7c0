import type { controlPlaneV1 } from '@bulkhead/contracts';
import { routingSnapshotSchema, type RoutingSnapshot } from '@bulkhead/routing-snapshot';

/**
 * Converts a snapshot received from the control plane into the file format the gateway reads
 * (Timestamp → ISO string; an empty epoch, from a control plane that predates epochs → none)
 * and validates it. Throws when it is invalid.
 */
export function snapshotFromProto(snapshot: controlPlaneV1.RoutingSnapshot): RoutingSnapshot {
  return routingSnapshotSchema.parse({
    epoch: snapshot.epoch || undefined,
    version: snapshot.version,
    publishedAt: snapshot.publishedAt?.toISOString(),
    cells: snapshot.cells.map((c) => ({ id: c.id, endpoints: { ...c.endpoints } })),
    tenants: snapshot.tenants.map((t) => ({
      id: t.id,
      name: t.name,
      cellId: t.cellId,
      apiKeySha256: t.apiKeySha256,
      rateLimitPerSecond: t.rateLimitPerSecond,
    })),
  });
}
