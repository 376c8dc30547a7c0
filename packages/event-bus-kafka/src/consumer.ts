import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { backoffDelay, type BackoffOptions } from '@bulkhead/backoff';
import {
  deadLetterTopic,
  PermanentMessageError,
  type BatchingMessageHandler,
  type DeadLetter,
  type Envelope,
  type FailureKind,
  type IncomingMessage,
  type PartitionLag,
  type SubscribeOptions,
  type Subscription,
} from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';
import { unscrapedMetrics, type Metrics } from '@bulkhead/metrics';
import { recordFailure } from '@bulkhead/telemetry/context';
import { deadLetterHeaders, envelopeFromHeaders, MalformedMessageError } from './headers.js';
import { consumerMetrics } from './metrics.js';
import type { KafkaPublisher } from './producer.js';
import { processInSpan, startReceiveSpan } from './tracing.js';

/** A transient failure is tried again after 200 ms, 400 ms, … (capped at 30 s). */
const TRANSIENT_RETRY: BackoffOptions = { initialMs: 200, maxMs: 30_000 };
/**
 * A dependency that is down: 0.5 s, 1 s, … capped at 15 s, jittered (every consumer of the
 * cell sees the same outage; they should not all come back in lockstep).
 */
const UNAVAILABLE_RETRY: BackoffOptions = { initialMs: 500, maxMs: 15_000, jitter: true };
/** Between starts of a consumer that kafkajs gave up on (a non-retriable crash). */
const RESTART_RETRY: BackoffOptions = { initialMs: 1_000, maxMs: 30_000, jitter: true };
/** Publishing a dead letter or running onDeadLetter failed: 0.5 s, 1 s, … capped at 30 s. */
const DEAD_LETTER_RETRY: BackoffOptions = { initialMs: 500, maxMs: 30_000, jitter: true };
const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_MAX_BATCH_SIZE = 100;
/** Consumer group session: a member that sends no heartbeat for this long is removed. */
const SESSION_TIMEOUT_MS = 10_000;
/** Long-poll time of a fetch (kafkajs default 5 s, which is also how long stop() could take). */
const FETCH_MAX_WAIT_MS = 500;
/**
 * Resolved offsets are committed together, once this long has passed since the last commit (by
 * the batch in hand, or a timer while none is), and when the consumer stops: one Kafka request a
 * second rather than one per batch and partition.
 */
const COMMIT_EVERY_MS = 1_000;

export interface ConsumerSettings {
  logger: Logger;
  /** Publishes dead letters (the bus's publisher: one send at a time, PublishError). */
  publisher: KafkaPublisher;
  /** Consumer group session timeout (default 10 s; the broker's minimum is 6 s). */
  sessionTimeoutMs?: number;
  /** The app's metrics (consumerMetrics). */
  metrics?: Metrics;
}

/**
 * A record the consumer is not done with: the step it is at, its runs so far, and when the next
 * try is due. Its partition is paused until then; the others keep flowing.
 */
interface Pending {
  offset: string;
  step: 'handle' | 'dead-letter' | 'notify';
  /** Handler runs so far. */
  runs: number;
  transientFailures: number;
  unavailableFailures: number;
  /** Consecutive failures of the dead-letter or notify step. */
  stepFailures: number;
  dueAt: number;
  timer?: NodeJS.Timeout;
  deadLetter?: DeadLetter;
}

type Decoded =
  | { message: IncomingMessage; error?: undefined }
  | { message?: undefined; error: MalformedMessageError };

/**
 * One consumer-group subscription: fetches, runs the handler once per message in order per
 * partition, commits resolved offsets, starts again a consumer that kafkajs gave up on, and
 * reports it through healthy() until it has joined its group again.
 *
 * A failing handler never holds up the other partitions: its message's partition is paused
 * (consumer.pause) until its next try is due and eachBatch returns at once, leaving the record
 * and the rest of the batch unresolved. kafkajs fetches a paused partition no more, and after
 * resume from its next offset, which is the first unresolved one (the offset manager's resolved
 * offset, else the committed one): the same record comes back, nothing after it was skipped,
 * and the partition's order holds (kafka-event-bus.int.test.ts and faults.int.test.ts check
 * it). Sleeping inside eachBatch instead would stall every partition of the fetch: kafkajs
 * processes all batches of one fetch before it fetches again.
 *
 * The failure's kind (SubscribeOptions.classify) decides: permanent → dead-lettered at once;
 * transient → retried with backoff, dead-lettered after maxAttempts runs; unavailable → retried
 * with capped backoff until it works, never dead-lettered. A record without a valid envelope is
 * dead-lettered as permanent with 0 attempts. Dead-lettering publishes the original record
 * (key, value, headers) to deadLetterTopic(topic) with the DEAD_LETTER_HEADERS, then runs
 * onDeadLetter, then resolves the offset; a step that fails is tried again later the same way,
 * so nothing is lost. The retry state is in memory: after a restart or a rebalance the message
 * is handled afresh from its committed offset (handlers are idempotent).
 */
export async function subscribe(
  kafka: Kafka,
  subscribeOptions: SubscribeOptions,
  settings: ConsumerSettings,
  onStop: () => void,
): Promise<Subscription> {
  validate(subscribeOptions);
  const {
    groupId,
    topics,
    handler,
    partitionsConcurrently = 1,
    classify = defaultClassify,
    maxAttempts = DEFAULT_MAX_ATTEMPTS,
    maxBatchSize = DEFAULT_MAX_BATCH_SIZE,
    onDeadLetter,
  } = subscribeOptions;
  const batching: BatchingMessageHandler | undefined =
    'batch' in handler && maxBatchSize > 1 ? handler : undefined;
  const { publisher, sessionTimeoutMs = SESSION_TIMEOUT_MS } = settings;
  const log = settings.logger.child({ groupId });
  const measured = consumerMetrics(settings.metrics ?? unscrapedMetrics(), groupId, topics);
  // Kafka's rule of thumb: a third of the session timeout.
  const heartbeatEveryMs = Math.min(1_000, Math.floor(sessionTimeoutMs / 3));
  // A fetch waits up to maxWaitTimeInMs for data and stop() waits for that fetch: keep it short
  // (an idle consumer then polls twice a second; data is returned as soon as it arrives).
  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
    allowAutoTopicCreation: false, // topics are created by ensureTopics()
    // A crashed member holds its partitions until its session times out (kafkajs default
    // 30 s): a shorter session lets a restarted instance take over sooner. A handler may run
    // longer than this: it heartbeats while it runs (withHeartbeats).
    sessionTimeout: sessionTimeoutMs,
    heartbeatInterval: heartbeatEveryMs,
    // kafkajs restarts a consumer that crashed with a retriable error, on a timer set after its
    // crash handler ran — even when the crash came from the connection closing under stop() (seen
    // under `make chaos`: the restarted consumer ran handlers on a closed pool and kept the
    // drained process from exiting). Once stopping, a crash ends the consumer.
    retry: { restartOnFailure: () => Promise.resolve(!stopping) },
  });
  let stopping = false;
  let crashed = false;
  let restarts = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  const pending = new Map<string, Pending>();
  /** Per partition, the next offset to read once every record before it was handled. */
  const toCommit = new Map<string, { topic: string; partition: number; offset: string }>();
  let lastCommitAt = Date.now();
  const partitionKey = (topic: string, partition: number): string => `${partition}@${topic}`;

  /** What toCommit holds, by topic, for a commit request; empties it. */
  function takeOffsetsToCommit(): Array<{ topic: string; partition: number; offset: string }> {
    const offsets = [...toCommit.values()];
    toCommit.clear();
    lastCommitAt = Date.now();
    return offsets;
  }

  /**
   * Commits what is resolved when a batch is not there to do it (a quiet group, stop()). A commit
   * that fails (a rebalance under way) loses nothing but the progress it carried: those records
   * are delivered again and the inbox deduplicates them.
   */
  async function commitResolved(): Promise<void> {
    if (toCommit.size === 0) return;
    const offsets = takeOffsetsToCommit();
    try {
      await consumer.commitOffsets(offsets);
    } catch (error) {
      log.debug({ err: error, partitions: offsets.length }, 'committing offsets failed');
    }
  }

  /**
   * Starts the consumer again, after a backoff, until it has joined its group or stop() is called.
   * kafkajs does not restart a consumer whose crash it deems non-retriable, and it deems so some
   * that only a broker's restart caused: "Failed to find group coordinator" while the broker pod
   * was replaced left a participant consuming nothing, its sagas timing out, under `make
   * kind-test`. kafkajs has disconnected it by then and keeps its subscriptions, so connect +
   * run start it afresh (a new group member; the committed offsets say where to resume).
   */
  function restartLater(): void {
    clearTimeout(restartTimer);
    restarts += 1;
    const delayMs = backoffDelay(restarts, RESTART_RETRY);
    restartTimer = setTimeout(() => {
      if (stopping) return;
      log.info({ restarts }, 'starting the consumer again');
      // A start that crashes again comes back through the CRASH event; one that throws, here.
      consumer
        .connect()
        .then(() => consumer.run(runOptions))
        .catch((error: unknown) => {
          log.warn({ err: error }, 'the consumer did not start again; retrying');
          restartLater();
        });
    }, delayMs);
  }

  consumer.on(consumer.events.CRASH, ({ payload: { error, restart } }) => {
    if (restart) {
      log.warn({ err: error }, 'consumer crashed; kafkajs restarts it');
      return;
    }
    crashed = true; // reported by healthy() until the consumer has joined its group again
    if (stopping) return;
    log.error({ err: error }, 'consumer crashed with a non-retriable error; starting it again');
    // Records waiting for a retry start afresh with the new member (their pauses went with the
    // old one).
    for (const entry of pending.values()) clearTimeout(entry.timer);
    pending.clear();
    toCommit.clear(); // the new member starts from the committed offsets
    restartLater();
  });
  // Joined: a restarted consumer is healthy again. A partition taken away by a rebalance: forget
  // its pending record (its new owner starts afresh) and lift the pause, which kafkajs would
  // otherwise keep should it come back.
  consumer.on(consumer.events.GROUP_JOIN, ({ payload: { memberAssignment } }) => {
    if (crashed && !stopping) log.info('the consumer joined its group again');
    crashed = false;
    restarts = 0;
    for (const [key, entry] of pending) {
      const [partition, topic] = splitKey(key);
      if (memberAssignment[topic]?.includes(partition)) continue;
      clearTimeout(entry.timer);
      pending.delete(key);
      consumer.resume([{ topic, partitions: [partition] }]);
    }
    // Progress on a partition now another member's is not ours to commit (it replays from the
    // committed offset; the inbox deduplicates).
    for (const [key, { topic, partition }] of toCommit) {
      if (!memberAssignment[topic]?.includes(partition)) toCommit.delete(key);
    }
  });

  /** Runs work while heartbeating, so that a long handler does not cost the membership. */
  async function withHeartbeats<T>(payload: EachBatchPayload, work: () => Promise<T>): Promise<T> {
    const timer = setInterval(() => {
      // A rebalance makes it throw: the message is then uncommitted and delivered again.
      payload.heartbeat().catch((error: unknown) => {
        log.debug({ err: error }, 'heartbeat while handling failed');
      });
    }, heartbeatEveryMs);
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }

  /** Pauses the partition until the pending record's next try is due. */
  function later(payload: EachBatchPayload, entry: Pending, delayMs: number): 'later' {
    entry.dueAt = Date.now() + delayMs;
    clearTimeout(entry.timer);
    const resume = payload.pause();
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      resume();
    }, delayMs);
    return 'later';
  }

  function classifyFailure(error: unknown): FailureKind {
    try {
      const kind = classify(error);
      if (kind === 'permanent' || kind === 'transient' || kind === 'unavailable') return kind;
      log.error({ kind }, 'classify returned no failure kind; treating the failure as transient');
    } catch (classifyError) {
      log.error({ err: classifyError }, 'classify threw; treating the failure as transient');
    }
    return 'transient';
  }

  async function publishDeadLetter(record: KafkaMessage, deadLetter: DeadLetter): Promise<void> {
    const { topic, partition, offset } = deadLetter.message;
    await publisher.sendRecords(
      [
        {
          topic: deadLetterTopic(topic),
          messages: [
            {
              key: record.key,
              value: record.value,
              headers: deadLetterHeaders(record.headers, {
                kind: deadLetter.kind,
                error: deadLetter.error,
                origin: { topic, partition, offset },
                groupId,
                attempts: deadLetter.attempts,
                deadLetteredAt: new Date(),
              }),
            },
          ],
        },
      ],
      `dead-lettering ${topic}[${partition}]@${offset}`,
    );
  }

  /** Takes the record as far as it can go now: 'done' (resolve it) or 'later' (paused). */
  async function processRecord(
    payload: EachBatchPayload,
    record: KafkaMessage,
  ): Promise<'done' | 'later'> {
    const { topic, partition } = payload.batch;
    const key = partitionKey(topic, partition);
    let entry = pending.get(key);
    if (entry && entry.offset !== record.offset) {
      // Another record of the partition: after a rebalance, a later one (resolved elsewhere)
      // or an earlier one (a replay from the committed offset). Its pending record, if still
      // unresolved, comes again and starts afresh.
      clearTimeout(entry.timer);
      pending.delete(key);
      entry = undefined;
    }
    // Back before its time (a restarted kafkajs consumer forgets its pauses): wait the rest.
    if (entry && Date.now() < entry.dueAt) return later(payload, entry, entry.dueAt - Date.now());

    const decoded = decode(topic, partition, record);
    const counted = measured.get(topic);
    if (!entry) {
      entry = {
        offset: record.offset,
        step: 'handle',
        runs: 0,
        transientFailures: 0,
        unavailableFailures: 0,
        stepFailures: 0,
        dueAt: 0,
      };
      pending.set(key, entry);
      if (decoded.error) {
        entry.step = 'dead-letter';
        entry.deadLetter = deadLetterOf(record, { topic, partition, groupId }, 'permanent', {
          error: decoded.error,
          attempts: 0,
        });
        log.error(
          { err: decoded.error, topic, partition, offset: record.offset },
          'a record without a valid envelope; dead-lettering it',
        );
      }
    }

    if (entry.step === 'handle' && decoded.message) {
      const message = decoded.message;
      entry.runs += 1;
      counted?.runs.inc();
      let failure: unknown;
      const startedAt = performance.now();
      try {
        const result = await withHeartbeats(payload, () =>
          processInSpan(message, groupId, () => handler(message)),
        );
        counted?.handling.observe((performance.now() - startedAt) / 1_000);
        counted?.outcome[result === 'duplicate' ? 'duplicate' : 'handled'].inc();
        pending.delete(key);
        return 'done';
      } catch (error) {
        failure = error;
        counted?.handling.observe((performance.now() - startedAt) / 1_000);
      }
      const kind = classifyFailure(failure);
      const context = {
        err: failure,
        topic,
        partition,
        offset: record.offset,
        messageId: message.envelope.messageId,
        kind,
        attempt: entry.runs,
      };
      if (kind === 'unavailable') {
        entry.unavailableFailures += 1;
        const retryInMs = backoffDelay(entry.unavailableFailures, UNAVAILABLE_RETRY);
        log.warn({ ...context, retryInMs }, 'message handler failed (unavailable); retrying later');
        counted?.outcome.retried.inc();
        return later(payload, entry, retryInMs);
      }
      if (kind === 'transient') entry.transientFailures += 1;
      if (kind === 'transient' && entry.transientFailures < maxAttempts) {
        const retryInMs = backoffDelay(entry.transientFailures, TRANSIENT_RETRY);
        log.warn({ ...context, retryInMs, maxAttempts }, 'message handler failed; retrying later');
        counted?.outcome.retried.inc();
        return later(payload, entry, retryInMs);
      }
      log.error({ ...context, maxAttempts }, 'message handler failed; dead-lettering the message');
      entry.step = 'dead-letter';
      entry.deadLetter = deadLetterOf(record, { topic, partition, groupId }, kind, {
        error: failure,
        attempts: entry.runs,
        envelope: message.envelope,
      });
    }

    const deadLetter = entry.deadLetter;
    if (!deadLetter) throw new Error('a pending record past its handler has no dead letter'); // a bug
    if (entry.step === 'dead-letter') {
      try {
        await withHeartbeats(payload, () => publishDeadLetter(record, deadLetter));
        counted?.deadLettered[deadLetter.kind].inc();
        entry.step = 'notify';
        entry.stepFailures = 0;
      } catch (error) {
        entry.stepFailures += 1;
        const retryInMs = backoffDelay(entry.stepFailures, DEAD_LETTER_RETRY);
        log.error(
          { err: error, topic, partition, offset: record.offset, retryInMs },
          'publishing a dead letter failed; trying again later',
        );
        return later(payload, entry, retryInMs);
      }
    }
    if (onDeadLetter) {
      try {
        await withHeartbeats(payload, () => onDeadLetter(deadLetter));
      } catch (error) {
        entry.stepFailures += 1;
        const retryInMs = backoffDelay(entry.stepFailures, DEAD_LETTER_RETRY);
        log.error(
          { err: error, topic, partition, offset: record.offset, retryInMs },
          'onDeadLetter failed; trying again later',
        );
        return later(payload, entry, retryInMs);
      }
    }
    counted?.outcome.dead_lettered.inc();
    pending.delete(key);
    return 'done';
  }

  /**
   * The decodable records from `from` on, up to maxBatchSize, as messages (a record without a
   * valid envelope ends the run: it takes the per-message path, which dead-letters it).
   */
  function runFrom(payload: EachBatchPayload, from: number): IncomingMessage[] {
    const { topic, partition, messages } = payload.batch;
    const run: IncomingMessage[] = [];
    for (let i = from; i < messages.length && run.length < maxBatchSize; i++) {
      const decoded = decode(topic, partition, messages[i]!);
      if (!decoded.message) break;
      run.push(decoded.message);
    }
    return run;
  }

  /**
   * Hands the run to the batching handler; returns how many of its messages, from the first,
   * took effect. A run that fails is split in halves, each tried again, until the message at
   * fault stands alone: it is not retried here but left to the per-message path (with its
   * retries, backoff and dead letter), and the messages after it wait for it. A failure that
   * says a dependency is down ends the run at once: no split can help.
   */
  async function handleRun(
    payload: EachBatchPayload,
    batchHandler: BatchingMessageHandler,
    run: IncomingMessage[],
  ): Promise<number> {
    const { topic, partition } = payload.batch;
    const counted = measured.get(topic);
    counted?.runs.inc();
    const startedAt = performance.now();
    try {
      const results = await withHeartbeats(payload, () =>
        batchHandler.batch(run, (message, work) => processInSpan(message, groupId, work)),
      );
      const seconds = (performance.now() - startedAt) / 1_000;
      for (const result of results) {
        counted?.handling.observe(seconds);
        counted?.outcome[result === 'duplicate' ? 'duplicate' : 'handled'].inc();
      }
      return run.length;
    } catch (error) {
      const kind = classifyFailure(error);
      log.debug(
        { err: error, topic, partition, offset: run[0]?.offset, messages: run.length, kind },
        'a batch failed; splitting it',
      );
      if (run.length === 1 || kind === 'unavailable') return 0;
      const half = Math.ceil(run.length / 2);
      const first = await handleRun(payload, batchHandler, run.slice(0, half));
      if (first < half || !payload.isRunning() || payload.isStale()) return first;
      return half + (await handleRun(payload, batchHandler, run.slice(half)));
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { topic, partition, messages } = payload.batch;
    if (messages.length === 0) return;
    // The batch's own span (a fan-in: it links to each record's send span; each record's
    // process span is the child of its send span, in the trace of its saga).
    const span = startReceiveSpan({ topic, partition, groupId }, messages);
    try {
      await processBatch(payload);
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  async function processBatch(payload: EachBatchPayload): Promise<void> {
    const { topic, partition } = payload.batch;
    // Offsets are committed after the handler resolved, in groups rather than one Kafka round
    // trip per message: a crash replays at most the uncommitted tail, which the handlers'
    // inbox deduplicates.
    const key = partitionKey(topic, partition);
    const commit = async (): Promise<void> => {
      if (toCommit.size === 0) return;
      await payload.commitOffsetsIfNecessary({ topics: byTopic(takeOffsetsToCommit()) });
    };
    const resolved = async (offset: string): Promise<void> => {
      payload.resolveOffset(offset);
      // Kafka stores the NEXT offset to read.
      toCommit.set(key, { topic, partition, offset: (BigInt(offset) + 1n).toString() });
      if (Date.now() - lastCommitAt >= COMMIT_EVERY_MS) {
        await commit();
        await payload.heartbeat();
      }
    };
    const records = payload.batch.messages;
    try {
      for (let i = 0; i < records.length;) {
        // Stopping, or a seek is pending: leave the rest unresolved (delivered again).
        if (!payload.isRunning() || payload.isStale()) return;
        // Runs of messages go to a batching handler, except while a record of the partition
        // waits for its next try (it goes on alone).
        if (batching && !pending.has(key)) {
          const run = runFrom(payload, i);
          if (run.length > 1) {
            const done = await handleRun(payload, batching, run);
            if (done > 0) await resolved(run[done - 1]!.offset);
            i += done;
            if (done === run.length) continue;
            if (!payload.isRunning() || payload.isStale()) return;
          }
        }
        const record = records[i]!;
        // 'later': the partition is paused; the record and the rest of the batch stay
        // unresolved and are fetched again from this record once it is resumed.
        if ((await processRecord(payload, record)) === 'later') return;
        await resolved(record.offset);
        i += 1;
      }
    } finally {
      // Stopping: everything resolved, of every partition, before the consumer leaves its group.
      const due = !payload.isRunning() || Date.now() - lastCommitAt >= COMMIT_EVERY_MS;
      if (!payload.isStale() && due) await commit();
    }
  }

  const runOptions = {
    autoCommit: false, // we commit ourselves, only offsets whose handler resolved
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: partitionsConcurrently,
    eachBatch,
  };
  // A quiet group commits what its last batches resolved within a second, too.
  const commitTimer = setInterval(() => {
    if (!stopping && Date.now() - lastCommitAt >= COMMIT_EVERY_MS) void commitResolved();
  }, COMMIT_EVERY_MS);
  commitTimer.unref();
  await consumer.connect();
  try {
    // A group without committed offsets starts at the beginning: nothing sent before the
    // service's first start is lost.
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run(runOptions);
  } catch (error) {
    clearInterval(commitTimer);
    await consumer.disconnect();
    throw error;
  }
  log.info({ topics }, 'subscribed');

  let stopped: Promise<void> | undefined;
  return {
    healthy: () => !crashed,
    lag: () => groupLag(kafka, groupId, topics),
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        clearTimeout(restartTimer);
        clearInterval(commitTimer);
        for (const entry of pending.values()) clearTimeout(entry.timer); // paused stays paused
        await commitResolved(); // what the batches before the one in hand resolved
        await consumer.stop(); // stops fetching; waits for the batch in hand, which commits what it handled
        await consumer.disconnect(); // leaves the group: partitions move at once
        for (const entry of pending.values()) clearTimeout(entry.timer); // set meanwhile
        pending.clear();
        onStop();
        log.info('unsubscribed');
      })()),
  };
}

/** Offsets of several partitions as a commit request's topics. */
function byTopic(
  offsets: Array<{ topic: string; partition: number; offset: string }>,
): Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> {
  const topics = new Map<string, Array<{ partition: number; offset: string }>>();
  for (const { topic, partition, offset } of offsets) {
    let partitions = topics.get(topic);
    if (!partitions) topics.set(topic, (partitions = []));
    partitions.push({ partition, offset });
  }
  return [...topics].map(([topic, partitions]) => ({ topic, partitions }));
}

function splitKey(key: string): [number, string] {
  const at = key.indexOf('@');
  return [Number(key.slice(0, at)), key.slice(at + 1)];
}

function defaultClassify(error: unknown): FailureKind {
  return error instanceof PermanentMessageError ? 'permanent' : 'transient';
}

function validate(options: SubscribeOptions): void {
  const { groupId, topics, partitionsConcurrently, maxAttempts, maxBatchSize } = options;
  if (typeof groupId !== 'string' || groupId === '') {
    throw new TypeError('subscribe: groupId must be a non-empty string');
  }
  if (
    !Array.isArray(topics) ||
    topics.length === 0 ||
    topics.some((t) => typeof t !== 'string' || t === '')
  ) {
    throw new TypeError('subscribe: topics must be a non-empty list of topic names');
  }
  const positive = (value: number | undefined): boolean =>
    value === undefined || (Number.isSafeInteger(value) && value >= 1);
  if (!positive(partitionsConcurrently)) {
    throw new RangeError('subscribe: partitionsConcurrently must be an integer ≥ 1');
  }
  if (!positive(maxAttempts)) throw new RangeError('subscribe: maxAttempts must be an integer ≥ 1');
  if (!positive(maxBatchSize)) {
    throw new RangeError('subscribe: maxBatchSize must be an integer ≥ 1');
  }
}

/** A Kafka record → IncomingMessage, or the reason it carries no valid envelope. */
function decode(topic: string, partition: number, record: KafkaMessage): Decoded {
  try {
    return {
      message: {
        topic,
        partition,
        offset: record.offset,
        key: record.key?.toString('utf8') ?? '',
        envelope: envelopeFromHeaders(record.headers),
        payload: record.value ?? Buffer.alloc(0),
      },
    };
  } catch (error) {
    if (!(error instanceof MalformedMessageError)) throw error;
    return { error };
  }
}

function deadLetterOf(
  record: KafkaMessage,
  origin: { topic: string; partition: number; groupId: string },
  kind: DeadLetter['kind'],
  last: { error: unknown; attempts: number; envelope?: Envelope },
): DeadLetter {
  const { error, attempts, envelope } = last;
  return {
    message: {
      topic: origin.topic,
      partition: origin.partition,
      offset: record.offset,
      key: record.key?.toString('utf8') ?? '',
      envelope,
      payload: record.value ?? Buffer.alloc(0),
    },
    groupId: origin.groupId,
    kind,
    error:
      error instanceof Error
        ? { name: error.name, message: error.message }
        : { name: typeof error, message: String(error) },
    attempts,
  };
}

/** Per partition of the topics: the group's committed offset, the log end, and the lag. */
async function groupLag(kafka: Kafka, groupId: string, topics: string[]): Promise<PartitionLag[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = await admin.fetchOffsets({ groupId, topics });
    const lags: PartitionLag[] = [];
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const ofTopic = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const { partition, high, low } of ends) {
        const offset = ofTopic.find((p) => p.partition === partition)?.offset;
        const next = offset === undefined || BigInt(offset) < 0n ? undefined : offset;
        // Without a committed offset the group starts at the log's beginning (fromBeginning).
        const lag = BigInt(high) - BigInt(next ?? low);
        lags.push({
          topic,
          partition,
          committed: next,
          logEnd: high,
          lag: Number(lag > 0n ? lag : 0n),
        });
      }
    }
    return lags.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}
