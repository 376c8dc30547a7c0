/**
 * Reading the Prometheus text format back: what the tests that scrape a real app, and the
 * cardinality guard, work on.
 */

export interface Sample {
  /** The series name as exposed (a histogram's `_bucket`, `_sum`, `_count` included). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y;

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Every sample of a scrape (comments and blank lines skipped); throws on a line it cannot read. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const [, name = '', body = '', raw = ''] = match;
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const label = LABEL.exec(body);
      if (!label) throw new Error(`malformed labels: ${line}`);
      labels[label[1] ?? ''] = unescape(label[2] ?? '');
    }
    samples.push({ name, labels, value: Number(raw) });
  }
  return samples;
}

/**
 * The sum of the samples of `name` whose labels include `labels` (all of them, with these
 * values); undefined when no sample matches — a series that does not exist, unlike one at 0.
 */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  let sum: number | undefined;
  for (const sample of samples) {
    if (sample.name !== name) continue;
    if (Object.entries(labels).some(([k, v]) => sample.labels[k] !== v)) continue;
    sum = (sum ?? 0) + sample.value;
  }
  return sum;
}

export interface CardinalityRules {
  /** The only label names a series may carry. */
  allowedLabels: ReadonlySet<string>;
  /** Values longer than this are refused (a raw path, a message, a token). Default 64. */
  maxValueLength?: number;
}

/** A UUID, a long hex or base64url token, or a long run of digits: an id, not a category. */
const ID_LIKE = [
  /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i,
  /\b[0-9a-f]{16,}\b/i,
  /[A-Za-z0-9_-]{32,}/,
  /\d{6,}/,
];

/**
 * What makes a scrape unbounded: a label name outside the allowlist, or a value that looks like
 * an id (a tenant, an order, a message id, a raw URL with one in it). Empty when all is well.
 * Histogram `le` and summary `quantile` labels are always allowed.
 */
export function cardinalityProblems(samples: readonly Sample[], rules: CardinalityRules): string[] {
  const problems = new Set<string>();
  const maxLength = rules.maxValueLength ?? 64;
  for (const { name, labels } of samples) {
    for (const [label, value] of Object.entries(labels)) {
      if (label === 'le' || label === 'quantile') continue;
      if (!rules.allowedLabels.has(label)) problems.add(`${name}: label ${label} is not allowed`);
      if (value.length > maxLength || ID_LIKE.some((pattern) => pattern.test(value))) {
        problems.add(`${name}: ${label}="${value}" looks like an id`);
      }
    }
  }
  return [...problems];
}
