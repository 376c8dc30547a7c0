import { createHash } from 'node:crypto';

/**
 * Canonical JSON of a JSON value: object keys sorted (by UTF-16 code units, as in RFC 8785),
 * no whitespace, arrays in order. Two bodies that differ only in key order or spacing are equal.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The Idempotency-Key request fingerprint: hex SHA-256 of the canonical JSON of the validated body. */
export function requestFingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
}
