import { logLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from '@bulkhead/logger';

/**
 * Errors kafkajs logs at ERROR although it retries them itself and they are part of normal life
 * (a fresh broker loading its internal topics, a coordinator moving, a group rebalancing,
 * back-to-back transactions), and one warning that is expected. Logged at debug so that real
 * errors stand out.
 */
const NOISY_RETRIABLE = [
  "The coordinator is loading and hence can't process requests", // GROUP_LOAD_IN_PROGRESS
  'The group coordinator is not available', // GROUP_COORDINATOR_NOT_AVAILABLE
  'This is not the correct coordinator for this group', // NOT_COORDINATOR_FOR_GROUP
  'The group is rebalancing', // REBALANCE_IN_PROGRESS (kafkajs re-joins)
  'There is no leader for this topic-partition', // LEADER_NOT_AVAILABLE (just after creation)
  'This server does not host this topic-partition', // UNKNOWN_TOPIC_OR_PARTITION (just created)
  'Topic creation errors', // TOPIC_ALREADY_EXISTS when services of a cell create its topics at once
  // Warned once per producer: its retries are bounded on purpose and a producer that failed a
  // send is never reused, which is what keeps the guarantee (producer.ts).
  'Limiting retries for the idempotent producer may invalidate EoS guarantees',
];

export function isNoisyRetriable(entry: LogEntry): boolean {
  const { message, error } = entry.log;
  const text = `${message} ${typeof error === 'string' ? error : ''}`;
  return NOISY_RETRIABLE.some((known) => text.includes(known));
}

/** Routes kafkajs's own log lines into our pino logger (kafkajs is created at logLevel.WARN). */
export function kafkaLogCreator(logger: Logger): logCreator {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return () => (entry) => {
    const { message, timestamp: _timestamp, ...fields } = entry.log;
    const data = { namespace: entry.namespace, ...fields };
    if (isNoisyRetriable(entry)) kafkaLogger.debug(data, message);
    else if (entry.level === logLevel.ERROR) kafkaLogger.error(data, message);
    else if (entry.level === logLevel.WARN) kafkaLogger.warn(data, message);
    else if (entry.level === logLevel.INFO) kafkaLogger.info(data, message);
    else kafkaLogger.debug(data, message);
  };
}
