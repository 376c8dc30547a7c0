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
  return loadConfigParts({ config: schema }, env).config;
}

/**
 * loadConfig for several schemas read from the same environment (e.g. a framework's variables
 * and a service's own): one ConfigError lists every problem of every schema.
 */
export function loadConfigParts<P extends Record<string, z.ZodType>>(
  parts: P,
  env: Record<string, string | undefined> = process.env,
): { [K in keyof P]: z.infer<P[K]> } {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, schema] of Object.entries(parts)) {
    const result = schema.safeParse(env);
    if (result.success) {
      values[name] = result.data;
      continue;
    }
    for (const issue of result.error.issues) {
      problems.push(`  - ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  return values as { [K in keyof P]: z.infer<P[K]> };
}

/** Reusable field schemas for env variables. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  url: () => z.url(),
  string: () => z.string().min(1),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  nonNegativeInt: (fallback: number) => z.coerce.number().int().min(0).default(fallback),
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
