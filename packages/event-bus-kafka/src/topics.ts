import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { backoffDelay } from '@bulkhead/backoff';
import type { TopicSpec } from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';

/** ensureTopics tries this often, waiting 200 ms, 400 ms, … up to 2 s in between. */
const ENSURE_TOPICS_ATTEMPTS = 8;
const ENSURE_TOPICS_RETRY = { initialMs: 200, maxMs: 2_000, jitter: true };

/**
 * Retries transient failures: several services creating one cell's topics at once on a fresh
 * broker see errors like UNKNOWN_TOPIC_OR_PARTITION while the new topic's metadata spreads.
 */
export async function ensureTopics(
  kafka: Kafka,
  specs: TopicSpec[],
  logger: Logger,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureTopicsOnce(kafka, specs, logger);
      return;
    } catch (error) {
      if (attempt >= ENSURE_TOPICS_ATTEMPTS) throw error;
      const retryInMs = backoffDelay(attempt, ENSURE_TOPICS_RETRY);
      logger.warn({ err: error, attempt, retryInMs }, 'creating topics failed; retrying');
      await sleep(retryInMs);
    }
  }
}

async function ensureTopicsOnce(kafka: Kafka, specs: TopicSpec[], logger: Logger): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.name));
    if (missing.length > 0) {
      // Returns false instead of throwing if another instance created them first.
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((spec) => ({
          topic: spec.name,
          numPartitions: spec.partitions,
          configEntries:
            spec.retentionMs === undefined
              ? []
              : [{ name: 'retention.ms', value: String(spec.retentionMs) }],
        })),
      });
      logger.info({ topics: missing }, 'topics created');
    }
    // Also confirms every topic is usable: right after a (possibly concurrent) creation the
    // broker may not serve its metadata yet, which throws here and is retried.
    const metadata = await admin.fetchTopicMetadata({ topics: specs.map((spec) => spec.name) });
    const present = specs.filter((spec) => existing.has(spec.name));
    for (const spec of present) {
      const partitions = metadata.topics.find((t) => t.name === spec.name)?.partitions.length ?? 0;
      if (partitions < spec.partitions) {
        // Adding partitions would move keys to other partitions and break per-key order.
        logger.warn(
          { topic: spec.name, partitions, wanted: spec.partitions },
          'topic exists with fewer partitions than asked; left as it is',
        );
      }
    }
  } finally {
    await admin.disconnect();
  }
}
