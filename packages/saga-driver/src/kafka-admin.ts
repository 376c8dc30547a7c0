import { cellTopicSpecs } from '@bulkhead/cell';
import { infra } from '@bulkhead/testkit';
import { Kafka, logLevel, type Admin } from 'kafkajs';

/**
 * Runs fn with a connected Kafka admin client on the local infra's broker, or on `brokers` (the
 * event bus has no API for clean-up, nor for topic configs a test needs).
 */
export async function withKafkaAdmin<T>(
  fn: (admin: Admin) => Promise<T>,
  brokers: string[] = infra.kafkaBrokers,
): Promise<T> {
  const admin = new Kafka({
    clientId: 'test-cleanup',
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the cell's topics that exist (test cleanup only). */
export function deleteCellTopics(cellId: string): Promise<void> {
  return withKafkaAdmin(async (admin) => {
    const existing = new Set(await admin.listTopics());
    const topics = cellTopicSpecs(cellId)
      .map((spec) => spec.name)
      .filter((name) => existing.has(name));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  });
}
