import { z } from 'zod';

/**
 * The client-side history of a run, Jepsen style: one JSON object per line (history.jsonl), in
 * the order the client saw things happen. Every attempt is an `invoke` followed by its completion
 * by the same process: `ok` (it happened, with what was read), `fail` (it certainly did not
 * happen) or `info` (unknown: a timeout, a lost connection, a 5xx). A process has at most one
 * operation outstanding, so a completion belongs to its process's last invoke.
 *
 *   f: 'product'  the set-up: one `ok` per product created, with its initial stock
 *   f: 'place'    POST /v1/orders; `op` names the logical operation (one Idempotency-Key and one
 *                 customerId each), `attempt` counts its tries
 *   f: 'read'     GET /v1/orders/:id; `ok` carries the status read
 *   f: 'nemesis'  `info` lines of the fault runner: a fault started / healed, and `healed`
 *                 once every fault is over (the terminal-state bound counts from it)
 */

export const ORDER_STATUSES = ['PENDING', 'CONFIRMED', 'REJECTED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
export const isTerminal = (status: OrderStatus): boolean => status !== 'PENDING';

const completion = z.enum(['ok', 'fail', 'info']);
const common = {
  process: z.number().int().nonnegative(),
  /** Epoch milliseconds, to line up with the services' logs. */
  at: z.number().int().nonnegative(),
};
const scope = { tenant: z.string().min(1), cell: z.string().min(1) };

const item = z.object({ sku: z.string().min(1), quantity: z.number().int().positive() });

export const productEventSchema = z.object({
  type: z.literal('ok'),
  f: z.literal('product'),
  ...common,
  ...scope,
  sku: z.string().min(1),
  stock: z.number().int().nonnegative(),
  priceCents: z.number().int().nonnegative(),
});

const placeCommon = {
  f: z.literal('place'),
  ...common,
  ...scope,
  op: z.number().int().nonnegative(),
  attempt: z.number().int().positive(),
  key: z.string().min(1),
  customerId: z.string().min(1),
};
export const placeEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('invoke'),
    ...placeCommon,
    items: z.array(item).min(1),
    paymentToken: z.string().min(1),
  }),
  z.object({
    type: z.literal('ok'),
    ...placeCommon,
    orderId: z.string().min(1),
    status: z.enum(ORDER_STATUSES),
    http: z.number().int(),
  }),
  z.object({
    type: completion.exclude(['ok']),
    ...placeCommon,
    http: z.number().int().optional(),
    error: z.string(),
  }),
]);

const readCommon = {
  f: z.literal('read'),
  ...common,
  ...scope,
  op: z.number().int().nonnegative(),
  orderId: z.string().min(1),
};
export const readEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('invoke'), ...readCommon }),
  z.object({
    type: z.literal('ok'),
    ...readCommon,
    status: z.enum(ORDER_STATUSES),
    reason: z.string().optional(),
  }),
  z.object({
    type: completion.exclude(['ok']),
    ...readCommon,
    http: z.number().int().optional(),
    error: z.string(),
  }),
]);

export const nemesisEventSchema = z.object({
  type: z.literal('info'),
  f: z.literal('nemesis'),
  ...common,
  phase: z.enum(['start', 'heal', 'healed']),
  /** The fault's kind and its index in schedule.json (absent on `healed`). */
  kind: z.string().optional(),
  fault: z.number().int().nonnegative().optional(),
  detail: z.string().optional(),
});

export const historyEventSchema = z.union([
  productEventSchema,
  placeEventSchema,
  readEventSchema,
  nemesisEventSchema,
]);

export type ProductEvent = z.infer<typeof productEventSchema>;
export type PlaceEvent = z.infer<typeof placeEventSchema>;
export type ReadEvent = z.infer<typeof readEventSchema>;
export type NemesisEvent = z.infer<typeof nemesisEventSchema>;
export type HistoryEvent = z.infer<typeof historyEventSchema>;

export class HistoryError extends Error {}

/** Parses history.jsonl; a line that is not a history event is an error naming the line. */
export function parseHistory(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new HistoryError(`line ${index + 1}: not JSON`);
    }
    const parsed = historyEventSchema.safeParse(value);
    if (!parsed.success) {
      throw new HistoryError(`line ${index + 1}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    }
    events.push(parsed.data);
  });
  return events;
}

/** An invoke and its completion (absent when the history ends first: unknown, like `info`). */
export interface Operation<E extends PlaceEvent | ReadEvent> {
  invoke: E & { type: 'invoke' };
  completion: (E & { type: 'ok' | 'fail' | 'info' }) | undefined;
}

/** Pairs each invoke with the next completion of the same process, in history order. */
export function operations(events: readonly HistoryEvent[]): {
  places: Operation<PlaceEvent>[];
  reads: Operation<ReadEvent>[];
} {
  const places: Operation<PlaceEvent>[] = [];
  const reads: Operation<ReadEvent>[] = [];
  const open = new Map<number, Operation<PlaceEvent> | Operation<ReadEvent>>();
  for (const event of events) {
    if (event.f !== 'place' && event.f !== 'read') continue;
    if (event.type === 'invoke') {
      if (event.f === 'place') {
        const op: Operation<PlaceEvent> = { invoke: event, completion: undefined };
        places.push(op);
        open.set(event.process, op);
      } else {
        const op: Operation<ReadEvent> = { invoke: event, completion: undefined };
        reads.push(op);
        open.set(event.process, op);
      }
      continue;
    }
    const op = open.get(event.process);
    if (!op || op.invoke.f !== event.f) {
      throw new HistoryError(
        `process ${event.process}: a ${event.f} ${event.type} at ${event.at} without its invoke`,
      );
    }
    (op as { completion: typeof event }).completion = event;
    open.delete(event.process);
  }
  return { places, reads };
}
