import { describe, expect, it } from 'vitest';
import { publishFailureKind } from '../src/producer.js';

/** kafkajs's error shapes (src/errors.js): a protocol error carries the broker's error type. */
const protocolError = (type: string): Error =>
  Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type });
const retriesExceeded = (cause: Error): Error =>
  Object.assign(new Error(cause.message, { cause }), { name: 'KafkaJSNumberOfRetriesExceeded' });

describe('publishFailureKind', () => {
  it('rejected: refusals retrying cannot fix, also as the cause of exhausted retries', () => {
    for (const type of [
      'MESSAGE_TOO_LARGE',
      'RECORD_LIST_TOO_LARGE',
      'INVALID_RECORD',
      'TOPIC_AUTHORIZATION_FAILED',
    ]) {
      expect(publishFailureKind(protocolError(type)), type).toBe('rejected');
    }
    const unknownTopic = retriesExceeded(protocolError('UNKNOWN_TOPIC_OR_PARTITION'));
    expect(publishFailureKind(unknownTopic)).toBe('rejected');
  });

  it('unavailable: connections, timeouts, no leader, a cluster-wide refusal, anything unknown', () => {
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
      name: 'KafkaJSConnectionError',
    });
    expect(publishFailureKind(retriesExceeded(refused))).toBe('unavailable');
    expect(publishFailureKind(protocolError('REQUEST_TIMED_OUT'))).toBe('unavailable');
    expect(publishFailureKind(protocolError('LEADER_NOT_AVAILABLE'))).toBe('unavailable');
    expect(publishFailureKind(protocolError('CLUSTER_AUTHORIZATION_FAILED'))).toBe('unavailable');
    expect(publishFailureKind('not an error')).toBe('unavailable');
  });
});
