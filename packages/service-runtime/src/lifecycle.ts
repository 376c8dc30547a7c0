import type { Logger } from '@bulkhead/logger';

/**
 * What a composition root has opened, in order, so that stop() closes exactly what exists, in
 * reverse order — instead of a `let x: T | undefined` per resource. A close that fails is logged
 * and the rest still close.
 */
export class Lifecycle {
  private readonly opened: { name: string; close: () => Promise<void> | void }[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  /** Opens a resource and remembers how to close it (not remembered if open() throws). */
  async open<T>(
    name: string,
    open: () => Promise<T> | T,
    close: (resource: T) => Promise<void> | void,
  ): Promise<T> {
    if (this.closing) throw new Error(`cannot open ${name}: stopping`);
    const resource = await open();
    this.opened.push({ name, close: () => close(resource) });
    return resource;
  }

  /** Remembers a clean-up for something opened already (a timer, an owned pool). */
  defer(name: string, close: () => Promise<void> | void): void {
    this.opened.push({ name, close });
  }

  /** Closes everything opened, latest first. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (let entry = this.opened.pop(); entry; entry = this.opened.pop()) {
        try {
          await entry.close();
        } catch (error) {
          this.logger.warn({ err: error, resource: entry.name }, 'closing failed; continuing');
        }
      }
    })();
    return this.closing;
  }
}

/** Time, as a dependency: tests and alternative runtimes can pass their own. */
export interface Clock {
  now(): Date;
  /** Runs task every ms (not keeping the process alive); cancel() stops it. */
  every(ms: number, task: () => void): { cancel(): void };
}

export const systemClock: Clock = {
  now: () => new Date(),
  every(ms, task) {
    const timer = setInterval(task, ms);
    timer.unref();
    return { cancel: () => clearInterval(timer) };
  },
};
