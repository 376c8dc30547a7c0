import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * The routing snapshot the control plane publishes and the data plane reads from a file
 * written by the config-agent sidecar. Versioned within an epoch (see position.ts): a higher
 * version of the same epoch replaces a lower one; a snapshot of another epoch replaces any.
 */

/**
 * The identity of the control plane's state: a UUID created once in its database. A version is
 * only comparable with versions of the same epoch.
 */
export const epochSchema = z.uuid();

/** A cell: its id and the host:port of each service its reader calls, by service name. */
export const cellSchema = z.object({
  id: z.string().min(1),
  endpoints: z.record(z.string().min(1), z.string().min(1)),
});

export const tenantSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  cellId: z.string().min(1),
  /** Hex SHA-256 of the API key. */
  apiKeySha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Requests per second at the gateway; 0 = the gateway's default. */
  rateLimitPerSecond: z.number().int().min(0),
});

export const routingSnapshotSchema = z.object({
  /** Absent in a file written by an agent that predates epochs: the epoch is then unknown. */
  epoch: epochSchema.optional(),
  version: z.number().int().positive(),
  publishedAt: z.string(),
  cells: z.array(cellSchema),
  tenants: z.array(tenantSchema),
});

export type CellEndpoints = z.infer<typeof cellSchema>;
export type TenantRoute = z.infer<typeof tenantSchema>;
export type RoutingSnapshot = z.infer<typeof routingSnapshotSchema>;

/** The one way to hash an API key (hex SHA-256): keys are random 256-bit secrets, not passwords. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}
