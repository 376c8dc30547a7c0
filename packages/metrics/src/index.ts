import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type Metric,
} from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/**
 * Buckets of every request latency (HTTP and gRPC, server and client), in seconds: the catalog's
 * (docs/observability.md), shared so that the edges' and the cells' histograms can be compared.
 */
export const LATENCY_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Buckets of a saga's duration (order accepted → terminal) and other second-to-minutes work. */
export const SAGA_DURATION_BUCKETS: readonly number[] = [
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/**
 * Every label name a series may carry: the catalog's (docs/observability.md) and those of
 * prom-client's runtime metrics. The cardinality guard of the scrape tests refuses any other.
 */
export const CATALOG_LABELS: ReadonlySet<string> = new Set([
  // every series
  'service',
  'cell',
  // RED
  'method',
  'route',
  'code',
  'grpc_service',
  'grpc_method',
  'grpc_code',
  // saga, async core, resilience, routing
  'saga',
  'outcome',
  'reason',
  'step',
  'topic',
  'kind',
  'group',
  'partition',
  'target',
  'state',
  'class',
  // prom-client's runtime metrics
  'type',
  'space',
  'version',
  'major',
  'minor',
  'patch',
]);

export interface MetricsOptions {
  /** The `service` default label: gateway, orders, inventory, payments, control-plane, config-agent. */
  service: string;
  /** The `cell` default label, for the services of a cell. */
  cell?: string;
  /**
   * prom-client's default metrics of the process (CPU, memory, event-loop delay, heap, GC) on the
   * registry. Default true; a test that builds many apps in one process may turn it off.
   */
  runtime?: boolean;
}

type Config<L extends string> = { name: string; help: string; labelNames?: readonly L[] };

/**
 * One app's metrics: its own prom-client Registry (never the global one, so that two apps in one
 * process — tests — do not mix) with the `service` (and `cell`) default labels, and get-or-create
 * of instruments by name, so that the pattern packages an app composes declare their instruments
 * against the app's registry without knowing who declared them first. Asking again for a name
 * returns the same instrument when the type and labels match, and throws when they do not (two
 * packages disagreeing on a metric is a bug).
 */
export class Metrics {
  readonly registry: Registry;

  constructor(options: MetricsOptions) {
    this.registry = new Registry();
    this.registry.setDefaultLabels({
      service: options.service,
      ...(options.cell === undefined ? {} : { cell: options.cell }),
    });
    if (options.runtime ?? true) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string = never>(config: Config<L>): Counter<L> {
    return this.getOrCreate(
      Counter,
      config,
      () => new Counter<L>({ ...withLabels(config), registers: [this.registry] }),
    );
  }

  /**
   * A gauge; `collect` (optional, may be async) runs at every scrape before the value is read:
   * the way to expose what is read from the database or the broker at scrape time.
   */
  gauge<L extends string = never>(
    config: Config<L> & { collect?: GaugeConfiguration<L>['collect'] },
  ): Gauge<L> {
    return this.getOrCreate(
      Gauge,
      config,
      () =>
        new Gauge<L>({
          ...withLabels(config),
          ...(config.collect ? { collect: config.collect } : {}),
          registers: [this.registry],
        }),
    );
  }

  histogram<L extends string = never>(
    config: Config<L> & { buckets?: readonly number[] },
  ): Histogram<L> {
    return this.getOrCreate(
      Histogram,
      config,
      () =>
        new Histogram<L>({
          ...withLabels(config),
          buckets: [...(config.buckets ?? LATENCY_BUCKETS)],
          registers: [this.registry],
        }),
    );
  }

  /** The Content-Type of what scrape() returns (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in Prometheus text format (runs the gauges' collect functions). */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  private getOrCreate<M extends Metric>(
    type: abstract new (...args: never[]) => M,
    config: Config<string>,
    create: () => M,
  ): M {
    const existing = this.registry.getSingleMetric(config.name);
    if (!existing) return create();
    const labels = (existing as unknown as { labelNames: readonly string[] }).labelNames;
    const wanted = config.labelNames ?? [];
    if (
      !(existing instanceof type) ||
      labels.length !== wanted.length ||
      labels.some((l, i) => l !== wanted[i])
    ) {
      throw new Error(
        `metric ${config.name} is already registered with another type or labels (${labels.join(', ')})`,
      );
    }
    return existing;
  }
}

function withLabels<L extends string>(
  config: Config<L>,
): CounterConfiguration<L> & HistogramConfiguration<L> {
  return { name: config.name, help: config.help, labelNames: [...(config.labelNames ?? [])] };
}

export function createMetrics(options: MetricsOptions): Metrics {
  return new Metrics(options);
}

/**
 * A part built without the app's metrics (a test, a tool) gets a private registry that nobody
 * scrapes: instrumented code then needs no branch per call.
 */
export function unscrapedMetrics(): Metrics {
  return new Metrics({ service: 'unscraped', runtime: false });
}

/**
 * Shares one read between the gauges of a scrape: several gauges filled from one query (the
 * outbox's state, the consumer's lag) call `read()` each, and only the first within `maxAgeMs`
 * (or while it runs) reads. A failed read is not kept. `clock` (ms) is for tests.
 */
export function sharedRead<T>(
  read: () => Promise<T>,
  maxAgeMs = 1_000,
  clock: () => number = () => performance.now(),
): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = clock();
    if (last && now - last.at < maxAgeMs) return last.value;
    const value = read();
    const entry = { at: now, value };
    last = entry;
    value.catch(() => {
      if (last === entry) last = undefined;
    });
    return value;
  };
}

export {
  cardinalityProblems,
  parseExposition,
  sampleValue,
  type Sample,
  type CardinalityRules,
} from './exposition.js';
