import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** The one logger factory: JSON lines on stdout, with the service name on every line. */
export function createLogger(service: string, level: LoggerOptions['level'] = 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
