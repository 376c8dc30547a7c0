import { cellServices } from '@bulkhead/cell';
import { env, loadConfig, z } from '@bulkhead/config';

/** The admin token used when none is configured: fine on a laptop, never in a shared deployment. */
export const DEFAULT_ADMIN_TOKEN = 'dev-admin-token';

const address = env.hostPort();

/** A cell: its id and the host:port of each of its services (the manifest's cell services). */
const cellSchema = z.strictObject({
  id: env.cellId(),
  // An enum-keyed record is exhaustive: every cell service needs an endpoint, and no other key.
  endpoints: z.record(z.enum(cellServices), address),
});

export type CellConfig = z.infer<typeof cellSchema>;

/** BULKHEAD_CELLS: a JSON array of cells with their service endpoints; ids unique, at least one. */
const cellsSchema = z
  .string()
  .transform((text, ctx): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of cells' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(cellSchema)
      .min(1, 'at least one cell is required')
      .refine(
        (cells) => new Set(cells.map((c) => c.id)).size === cells.length,
        'cell ids must be unique',
      ),
  );

const schema = z
  .object({
    CONTROL_PLANE_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
    CONTROL_PLANE_HTTP_PORT: env.port(8081),
    CONTROL_PLANE_GRPC_HOST: z.string().min(1).default('127.0.0.1'),
    CONTROL_PLANE_GRPC_PORT: env.port(7081),
    CONTROL_PLANE_OPS_HOST: z.string().min(1).default('127.0.0.1'),
    CONTROL_PLANE_OPS_PORT: env.port(9081),
    CONTROL_PLANE_ADMIN_TOKEN: z.string().min(1).default(DEFAULT_ADMIN_TOKEN),
    BULKHEAD_PG_URL: env.url(),
    CONTROL_PLANE_DATABASE: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lowercase PostgreSQL identifier')
      .default('bulkhead_control_plane'),
    BULKHEAD_CELLS: cellsSchema,
    CONTROL_PLANE_DEFAULT_RATE_LIMIT: z.coerce.number().int().min(0).max(2_147_483_647).default(0),
    LOG_LEVEL: env.logLevel(),
  })
  .transform((e) => ({
    http: { host: e.CONTROL_PLANE_HTTP_HOST, port: e.CONTROL_PLANE_HTTP_PORT },
    grpc: { host: e.CONTROL_PLANE_GRPC_HOST, port: e.CONTROL_PLANE_GRPC_PORT },
    /** The ops port: /metrics, /runtime (the admin API serves the probes). */
    ops: { host: e.CONTROL_PLANE_OPS_HOST, port: e.CONTROL_PLANE_OPS_PORT },
    adminToken: e.CONTROL_PLANE_ADMIN_TOKEN,
    /** Server URL; the app owns `database` on that server. */
    pgUrl: e.BULKHEAD_PG_URL,
    database: e.CONTROL_PLANE_DATABASE,
    cells: e.BULKHEAD_CELLS,
    /** Requests per second given to new tenants; 0 = the gateway's default. */
    defaultRateLimit: e.CONTROL_PLANE_DEFAULT_RATE_LIMIT,
    logLevel: e.LOG_LEVEL,
  }));

export type ControlPlaneConfig = z.infer<typeof schema>;

/** Reads the control plane's configuration; throws a ConfigError naming every bad variable. */
export function loadControlPlaneConfig(
  source: Record<string, string | undefined> = process.env,
): ControlPlaneConfig {
  return loadConfig(schema, source);
}
