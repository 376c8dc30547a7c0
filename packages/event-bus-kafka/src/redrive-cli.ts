/**
 * CLI: re-publishes dead letters of `<topic>.dead-letters` to `<topic>` (redrive.ts), printing
 * each one; `make redrive TOPIC=<consumed topic> [ID=<message id>]` runs it.
 *   node packages/event-bus-kafka/dist/redrive-cli.js <consumed topic> [<message id>]
 * The brokers are read like a cell service reads them: BULKHEAD_KAFKA_BROKERS (comma-separated,
 * default 127.0.0.1:19092); LOG_LEVEL (default warn) for what the clients log, on stderr.
 * Exit code 0 when done (also with nothing to redrive), 1 on a failure, 2 on bad usage, 78 on a
 * bad variable (as a service).
 */
import { ConfigError, env, loadConfig, z } from '@bulkhead/config';
import { createLogger } from '@bulkhead/logger';
import { createKafkaRedrive } from './index.js';

const [topic, messageId, ...extra] = process.argv.slice(2);
if (!topic || extra.length > 0) {
  process.stderr.write('usage: redrive-cli.js <consumed topic> [<message id>]\n');
  process.exitCode = 2;
} else {
  try {
    await run(topic, messageId);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 78;
  }
}

async function run(topic: string, messageId: string | undefined): Promise<void> {
  const config = loadConfig(
    z.object({
      BULKHEAD_KAFKA_BROKERS: env.list().default(['127.0.0.1:19092']),
      LOG_LEVEL: env.logLevel().default('warn'),
    }),
  );
  const logger = createLogger('redrive', config.LOG_LEVEL, process.stderr);
  const redriver = createKafkaRedrive({
    clientId: 'bulkhead-redrive',
    brokers: config.BULKHEAD_KAFKA_BROKERS,
    logger,
  });
  try {
    const redriven = await redriver.redrive({
      topic,
      ...(messageId === undefined ? {} : { messageId }),
      onRedriven: (r) => {
        process.stdout.write(
          `re-published ${topic}.dead-letters[${r.partition}]@${r.offset} → ${topic}: ` +
            `message-id ${r.messageId ?? '(none)'}, type ${r.type ?? '(none)'}, key ${r.key ?? '(none)'}` +
            ` (dead-lettered ${r.deadLetteredAt ?? '?'}, ${r.kind ?? '?'}: ${r.error ?? '?'})\n`,
        );
      },
    });
    process.stdout.write(
      redriven.length === 0
        ? `nothing to redrive in ${topic}.dead-letters\n`
        : `${redriven.length} dead letter(s) re-published to ${topic}\n`,
    );
  } catch (error) {
    process.stderr.write(
      `redrive failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  } finally {
    await redriver.close();
  }
}
