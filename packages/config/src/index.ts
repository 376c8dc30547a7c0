import { z } from 'zod';
import { CELL_ID_PATTERN } from '@bulkhead/cell';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads configuration once from an environment-like record and validates it.
 * Throws a ConfigError listing every invalid or missing variable (the caller decides how to exit).
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.join('.') || '(root)';
    return `  - ${key}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
}

/** Reusable field schemas for env variables. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  url: () => z.url(),
  string: () => z.string().min(1),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  logLevel: () =>
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** A comma-separated list, e.g. "127.0.0.1:9092,127.0.0.1:9093". */
  list: () =>
    z
      .string()
      .min(1)
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
  /** host:port, e.g. 127.0.0.1:7081. */
  hostPort: () => z.string().regex(/^\S+:\d{1,5}$/, 'expected host:port'),
  cellId: () =>
    z.string().regex(CELL_ID_PATTERN, 'lowercase letters, digits and dashes, e.g. cell-1'),
};

export { z };
