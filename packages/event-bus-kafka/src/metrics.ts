import type { PartitionLag } from '@bulkhead/event-bus';
import { LATENCY_BUCKETS, type Metrics } from '@bulkhead/metrics';

/** The outcomes of messages_consumed_total, and the kinds a message is dead-lettered for. */
const OUTCOMES = ['handled', 'duplicate', 'retried', 'dead_lettered'] as const;
const DEAD_LETTER_KINDS = ['permanent', 'transient'] as const;

interface Increment {
  inc(): void;
}

/** One topic's counters and timer of a group, children made once, every series at 0 first. */
interface TopicMetrics {
  outcome: Record<(typeof OUTCOMES)[number], Increment>;
  deadLettered: Record<(typeof DEAD_LETTER_KINDS)[number], Increment>;
  handling: { observe(seconds: number): void };
  runs: Increment;
}

/**
 * `messages_consumed_total{group, topic, outcome}`, `messages_dead_lettered_total{group, topic,
 * kind}`, `message_handling_seconds{group, topic}` and `consumer_runs_total{group, topic}` of one
 * subscription, by topic.
 */
export function consumerMetrics(
  metrics: Metrics,
  groupId: string,
  topics: readonly string[],
): Map<string, TopicMetrics> {
  const consumed = metrics.counter({
    name: 'messages_consumed_total',
    help: 'Consumed messages by result: handled, duplicate (no effect), retried (a failed run), dead_lettered',
    labelNames: ['group', 'topic', 'outcome'],
  });
  const deadLettered = metrics.counter({
    name: 'messages_dead_lettered_total',
    help: 'Records published to <topic>.dead-letters, by failure kind',
    labelNames: ['group', 'topic', 'kind'],
  });
  const handling = metrics.histogram({
    name: 'message_handling_seconds',
    help: "One run of a message's handler, or of the batch it was handled in (one transaction)",
    labelNames: ['group', 'topic'],
    buckets: LATENCY_BUCKETS,
  });
  const runs = metrics.counter({
    name: 'consumer_runs_total',
    help: "The handler's runs (one transaction each with the inbox): a run of a partition's messages, or one message on its own; messages_consumed_total over it is the batching",
    labelNames: ['group', 'topic'],
  });
  const zeroed = (child: { inc(n?: number): void }): Increment => {
    child.inc(0);
    return { inc: () => child.inc() };
  };
  return new Map(
    topics.map((topic) => {
      const labels = { group: groupId, topic };
      handling.zero(labels);
      return [
        topic,
        {
          outcome: Object.fromEntries(
            OUTCOMES.map((outcome) => [outcome, zeroed(consumed.labels({ ...labels, outcome }))]),
          ) as TopicMetrics['outcome'],
          deadLettered: Object.fromEntries(
            DEAD_LETTER_KINDS.map((kind) => [
              kind,
              zeroed(deadLettered.labels({ ...labels, kind })),
            ]),
          ) as TopicMetrics['deadLettered'],
          handling: handling.labels(labels),
          runs: zeroed(runs.labels(labels)),
        },
      ];
    }),
  );
}

/**
 * `kafka_consumer_lag{group, topic, partition}`, read at scrape time: `read()` gives the group and
 * its lag per partition (Subscription.lag(), what the ops view shows), or null while there is no
 * subscription. A scrape whose read fails (the broker away) shows no lag series rather than
 * stale ones.
 */
export function consumerLagMetric(
  metrics: Metrics,
  read: () => Promise<{ group: string; partitions: readonly PartitionLag[] } | null>,
): void {
  metrics.gauge({
    name: 'kafka_consumer_lag',
    help: "Records not yet consumed by the group: the partition's log end − its committed offset",
    labelNames: ['group', 'topic', 'partition'],
    async collect() {
      this.reset();
      const lag = await read().catch(() => null);
      for (const { topic, partition, lag: records } of lag?.partitions ?? []) {
        this.set({ group: lag?.group ?? '', topic, partition: String(partition) }, records);
      }
    },
  });
}
