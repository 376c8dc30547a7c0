import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { BulkheadRejectedError, bulkhead } from 'cockatiel';
import {
  CircuitOpenError,
  createCallPolicy,
  type CallPolicy,
  type CallPolicyState,
} from '@bulkhead/call-policy';
import { databaseFailure } from '@bulkhead/db/failures';
import type { Logger } from '@bulkhead/logger';
import { LATENCY_BUCKETS, unscrapedMetrics, type Histogram, type Metrics } from '@bulkhead/metrics';
import type { z } from 'zod';

export { grpc };
export const Status = grpc.status;

/** Metadata key carrying a machine-readable reason next to the canonical status code. */
export const ERROR_REASON_KEY = 'bulkhead-error-reason';

/** An error with a canonical gRPC status, thrown by handlers and raised by clients. */
export class GrpcError extends Error {
  override readonly name = 'GrpcError';
  constructor(
    readonly code: grpc.status,
    message: string,
    /** Optional machine-readable reason, e.g. idempotency_key_in_flight. */
    readonly reason?: string,
  ) {
    super(message);
  }

  toServiceError(): Partial<grpc.ServiceError> {
    const metadata = new grpc.Metadata();
    if (this.reason) metadata.set(ERROR_REASON_KEY, this.reason);
    return { code: this.code, details: this.message, metadata };
  }

  /** Converts what a grpc-js client returned into a GrpcError (keeps the reason metadata). */
  static fromServiceError(error: grpc.ServiceError): GrpcError {
    const reason = error.metadata?.get(ERROR_REASON_KEY)[0];
    return new GrpcError(
      error.code,
      error.details,
      typeof reason === 'string' ? reason : undefined,
    );
  }
}

/** A request field's path as the proto names it: items.0.unitPriceCents → items.0.unit_price_cents. */
function protoPath(path: readonly PropertyKey[]): string {
  return path.map((part) => String(part).replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)).join('.');
}

const describeIssues = (issues: readonly z.core.$ZodIssue[]): string[] =>
  issues.map((i) => `${protoPath(i.path) || 'request'}: ${i.message}`);

/** Every problem of a request with its schema, one "field: message" each (empty when valid). */
export function requestProblems(schema: z.ZodType, request: unknown): string[] {
  const result = schema.safeParse(request);
  return result.success ? [] : describeIssues(result.error.issues);
}

/** Validates a request with its schema; INVALID_ARGUMENT naming every bad field otherwise. */
export function parseRequest<S extends z.ZodType>(schema: S, request: unknown): z.infer<S> {
  const result = schema.safeParse(request);
  if (result.success) return result.data;
  throw new GrpcError(Status.INVALID_ARGUMENT, describeIssues(result.error.issues).join('; '));
}

/**
 * The status of a PostgreSQL error the request caused, or undefined for any other error. SQLSTATE
 * class 22 (data exception: a value the column cannot hold, e.g. 22021 NUL in text, 22003 out of
 * range) is INVALID_ARGUMENT; class 23 (integrity constraint violation: 23505 unique, 23503
 * foreign key, 23514 check) is FAILED_PRECONDITION — the request conflicts with the stored
 * state; 57014 (query canceled: a deadlineGuard's statement timeout) is DEADLINE_EXCEEDED; a
 * database that cannot be reached (connection refused, lost, shutting down) is UNAVAILABLE, a
 * transaction that lost a race (deadlock, serialization failure) ABORTED (databaseFailure in
 * @bulkhead/db tells them apart). The details name the SQLSTATE only: constraint and column names stay in the log.
 * Recognises the errors of node-postgres (a five-character `code` and a `severity`) without
 * depending on it.
 */
export function grpcErrorFromDatabaseError(error: unknown): GrpcError | undefined {
  const code = (error as { code?: string } | undefined)?.code;
  switch (databaseFailure(error)) {
    case 'data':
      return new GrpcError(
        Status.INVALID_ARGUMENT,
        `a value of the request is invalid (SQLSTATE ${code})`,
      );
    case 'constraint':
      return new GrpcError(
        Status.FAILED_PRECONDITION,
        `the request conflicts with the stored data (SQLSTATE ${code})`,
      );
    // query_canceled: the statement timeout a deadlineGuard set fired, the caller's deadline passed.
    case 'timeout':
      return new GrpcError(
        Status.DEADLINE_EXCEEDED,
        'the deadline passed while the work ran; nothing was written',
        ADMISSION_REASONS.deadlinePassed,
      );
    // The database cannot be reached (restarted, partitioned, out of connections): the service
    // cannot answer now — a retry (another replica, a new connection, later) may succeed.
    case 'unavailable':
      return new GrpcError(
        Status.UNAVAILABLE,
        // Not "nothing was written": the connection may have dropped during COMMIT.
        'the service cannot reach its database; retry later (an Idempotency-Key makes that safe)',
      );
    // Lost a race with another transaction (deadlock, serialization): nothing was written.
    case 'conflict':
      return new GrpcError(
        Status.ABORTED,
        `the request conflicted with a concurrent one (SQLSTATE ${code}); nothing was written; retry it`,
      );
    default:
      return undefined;
  }
}

/**
 * The one way to implement a unary method: the request is validated with its schema first
 * (INVALID_ARGUMENT naming every bad field), then the async handler runs with the parsed input.
 * GrpcErrors keep their status; a database error the request caused gets its status
 * (grpcErrorFromDatabaseError); anything else is logged and answered INTERNAL without internals
 * leaking to the caller.
 */
export function unary<S extends z.ZodType, Res>(
  logger: Logger,
  schema: S,
  impl: (input: z.infer<S>, call: grpc.ServerUnaryCall<z.input<S>, Res>) => Promise<Res>,
): grpc.handleUnaryCall<z.input<S>, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => impl(parseRequest(schema, call.request), call))
      .then(
        (response) => callback(null, response),
        (error: unknown) => {
          if (error instanceof GrpcError) {
            callback(error.toServiceError());
            return;
          }
          const rejected = grpcErrorFromDatabaseError(error);
          if (rejected) {
            logger.warn({ err: error, path: call.getPath() }, 'request rejected by the database');
            callback(rejected.toServiceError());
            return;
          }
          logger.error({ err: error, path: call.getPath() }, 'unhandled error in gRPC handler');
          callback({ code: grpc.status.INTERNAL, details: 'internal error' });
        },
      );
  };
}

/** Reasons a server gives next to RESOURCE_EXHAUSTED / DEADLINE_EXCEEDED when it refuses work. */
export const ADMISSION_REASONS = {
  /** The server already runs its bound of calls (GrpcServerOptions.maxInFlight). */
  serverBusy: 'server_busy',
  /** The caller's deadline had passed before the work started. */
  deadlinePassed: 'deadline_passed',
} as const;

/** The caller's deadline of a server call (epoch ms), or undefined when it set none. */
export function deadlineOf(call: { getDeadline(): grpc.Deadline }): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Honours the caller's deadline inside a transaction (pass it to withTransaction): the work
 * does not begin once the deadline has passed, its statements time out with it, and it does not
 * commit unless `marginMs` is still left for the answer to travel back. So work the caller has
 * given up on (it answered 504, or retried) is rolled back instead of committed.
 */
export function deadlineGuard(
  call: { getDeadline(): grpc.Deadline; readonly cancelled: boolean },
  marginMs = 20,
): { guard: () => number | undefined } {
  const deadline = deadlineOf(call);
  return {
    guard: () => {
      const left = deadline === undefined ? Infinity : deadline - marginMs - Date.now();
      if (call.cancelled || left <= 0) {
        throw new GrpcError(
          Status.DEADLINE_EXCEEDED,
          'the deadline passed before the work could commit; nothing was written',
          ADMISSION_REASONS.deadlinePassed,
        );
      }
      return Number.isFinite(left) ? left : undefined;
    },
  };
}

/** The canonical name of a status code (`OK`, `UNAVAILABLE`, …): the grpc_code label. */
export function statusName(code: number): string {
  return Status[code] ?? 'UNKNOWN';
}

/** `/bulkhead.orders.v1.OrdersService/CreateOrder` → its service and method labels. */
function methodLabels(path: string): { grpc_service: string; grpc_method: string } {
  const slash = path.lastIndexOf('/');
  return { grpc_service: path.slice(1, slash), grpc_method: path.slice(slash + 1) };
}

/**
 * Observes the calls of one method into a RED histogram: one labelled child per status code,
 * made on first use (OK up front, so the series exists at 0 before the first call).
 */
function methodTimer(
  histogram: Histogram<string>,
  labels: Record<string, string>,
): (code: number, startedAt: number) => void {
  const children: { observe(value: number): void }[] = [];
  const child = (code: number) =>
    (children[code] ??= histogram.labels({ ...labels, grpc_code: statusName(code) }));
  histogram.zero({ ...labels, grpc_code: statusName(Status.OK) });
  return (code, startedAt) => child(code).observe((performance.now() - startedAt) / 1_000);
}

export interface GrpcServerOptions {
  /**
   * Bound on the unary calls the server works on at once (default 64). A call beyond it is
   * answered RESOURCE_EXHAUSTED at once, before any work: the backstop behind the callers' own
   * admission control. Health checks are not counted.
   */
  maxInFlight?: number;
  /** How long a connection lives before the server asks the client to open a new one. */
  maxConnectionAgeMs?: number;
  /**
   * The app's metrics: `grpc_server_handling_seconds` per method and status of every unary call
   * (health excluded), `grpc_server_shed_total` per method refused at the in-flight bound.
   */
  metrics?: Metrics;
}

export interface GrpcServerState {
  inFlight: number;
  maxInFlight: number;
  /** Calls refused because the bound was reached, and because their deadline had passed. */
  refusedBusy: number;
  refusedDeadline: number;
}

export interface GrpcServer {
  readonly server: grpc.Server;
  /**
   * Adds a service; each unary method is admitted first: a call whose deadline has passed is
   * answered DEADLINE_EXCEEDED and one beyond maxInFlight RESOURCE_EXHAUSTED, without running it.
   */
  addService(
    definition: grpc.ServiceDefinition,
    implementation: grpc.UntypedServiceImplementation,
  ): void;
  readonly state: GrpcServerState;
  /** Binds to host:port (0 for a random port) and returns the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Marks the server serving in grpc.health.v1. */
  setServing(serving: boolean): void;
  /** Stops accepting calls, lets in-flight calls finish (up to graceMs), then forces shutdown. */
  shutdown(graceMs?: number): Promise<void>;
}

/** A grpc-js server that serves grpc.health.v1 (NOT_SERVING until setServing(true)). */
export function createGrpcServer(options: GrpcServerOptions = {}): GrpcServer {
  const maxInFlight = options.maxInFlight ?? 64;
  const server = new grpc.Server({
    'grpc.keepalive_permit_without_calls': 1,
    // Connections are recycled so that clients re-resolve and spread over new replicas; the
    // client retries the streams this refuses transparently (createGrpcClient).
    'grpc.max_connection_age_ms': options.maxConnectionAgeMs ?? 5 * 60_000,
  });
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  health.addToServer(server);
  const inFlight = bulkhead(maxInFlight, 0);
  const counters = { refusedBusy: 0, refusedDeadline: 0 };
  const metrics = options.metrics ?? unscrapedMetrics();
  const handling = metrics.histogram({
    name: 'grpc_server_handling_seconds',
    help: 'Unary gRPC calls served, by service, method and canonical status code',
    labelNames: ['grpc_service', 'grpc_method', 'grpc_code'],
    buckets: LATENCY_BUCKETS,
  });
  const shedTotal = metrics.counter({
    name: 'grpc_server_shed_total',
    help: 'Unary gRPC calls refused at the server in-flight bound (RESOURCE_EXHAUSTED server_busy)',
    labelNames: ['grpc_service', 'grpc_method'],
  });

  const admitted = (
    path: string,
    handler: grpc.handleUnaryCall<unknown, unknown>,
  ): grpc.handleUnaryCall<unknown, unknown> => {
    const labels = methodLabels(path);
    const observe = methodTimer(handling, labels);
    const shed = shedTotal.labels(labels);
    shed.inc(0);
    return (call, callback) => {
      const startedAt = performance.now();
      const answer: grpc.sendUnaryData<unknown> = (error, value) => {
        observe(error ? (error.code ?? Status.UNKNOWN) : Status.OK, startedAt);
        callback(error, value);
      };
      const deadline = deadlineOf(call);
      if (call.cancelled || (deadline !== undefined && deadline <= Date.now())) {
        counters.refusedDeadline += 1;
        const error = new GrpcError(
          Status.DEADLINE_EXCEEDED,
          'the deadline passed before the call started; nothing was done',
          ADMISSION_REASONS.deadlinePassed,
        );
        answer(error.toServiceError());
        return;
      }
      inFlight
        .execute(
          () =>
            new Promise<void>((resolve) => {
              handler(call, (error, value) => {
                resolve();
                answer(error, value);
              });
            }),
        )
        .catch((error: unknown) => {
          // Only a handler that throws instead of answering gets here: it has not called back.
          if (!(error instanceof BulkheadRejectedError)) {
            answer({ code: Status.INTERNAL, details: 'internal error' });
            return;
          }
          counters.refusedBusy += 1;
          shed.inc();
          const busy = new GrpcError(
            Status.RESOURCE_EXHAUSTED,
            `the server is at its bound of ${maxInFlight} calls in flight; retry later`,
            ADMISSION_REASONS.serverBusy,
          );
          answer(busy.toServiceError());
        });
    };
  };

  return {
    server,
    addService(definition, implementation) {
      const wrapped: grpc.UntypedServiceImplementation = {};
      for (const [name, handler] of Object.entries(implementation)) {
        const method = definition[name];
        wrapped[name] =
          method && !method.requestStream && !method.responseStream
            ? admitted(method.path, handler as grpc.handleUnaryCall<unknown, unknown>)
            : handler;
      }
      server.addService(definition, wrapped);
    },
    get state() {
      return { inFlight: maxInFlight - inFlight.executionSlots, maxInFlight, ...counters };
    },
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
        server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) =>
          error ? reject(error) : resolve(bound),
        );
      }),
    setServing: (serving) => health.setStatus('', serving ? 'SERVING' : 'NOT_SERVING'),
    shutdown: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        health.setStatus('', 'NOT_SERVING');
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

/** Client interceptor that gives every call a deadline unless the caller set one. */
export function defaultDeadline(ms: number): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(
      nextCall({ ...options, deadline: options.deadline ?? Date.now() + ms }),
    );
}

export interface GrpcClientOptions {
  /** Deadline given to every call that does not set its own (default 2 s). */
  deadlineMs?: number;
  /**
   * Longest a channel may try to connect without succeeding before it is replaced by a fresh
   * one (default 1 s, as Linkerd's proxy: a connection inside a cluster or on loopback is made
   * in milliseconds, and one whose SYN was lost is not answered before the kernel retries it
   * after 1 s). grpc-js has no connect timeout of its own: an attempt whose SYN is lost — in
   * Kubernetes, one routed to a pod that just went away — waits for the kernel's SYN retries
   * (about 2 min), and every call on the channel waits with it, or, when the attempt is a
   * reconnect after a failed one, fails at once with the old failure's error.
   */
  connectTimeoutMs?: number;
  /** Extra grpc-js channel options (override the defaults below). */
  channelOptions?: Partial<grpc.ClientOptions>;
  /**
   * The call policy (@bulkhead/call-policy): a circuit breaker for the downstream, and retries
   * with jitter within a retry budget for the methods listed as idempotent (or calls marked so).
   * Without it, calls are made once (refused streams are still retried transparently).
   */
  policy?: {
    /** What the client calls, for logs and state: e.g. `cell-1/orders`. */
    downstream: string;
    logger: Logger;
    /** Methods (by their name in the definition) that are safe to repeat. */
    idempotent?: readonly string[];
  };
  /**
   * The app's metrics: `grpc_client_handling_seconds` per method and status of every unary call
   * (retries included: one observation per call, with its final status), labelled with `cell`.
   */
  metrics?: Metrics;
  /** The callee's cell, for the `cell` label (empty when it is in none, e.g. the control plane). */
  cell?: string;
}

/** Per-call options. */
export interface CallOptions {
  /** This call's deadline, relative, instead of the client's default. */
  deadlineMs?: number;
  /** This call's deadline, absolute (epoch ms): e.g. the incoming request's, propagated. */
  deadline?: number;
  /** Safe to repeat (overrides the method's default): e.g. a create with an idempotency key. */
  idempotent?: boolean;
}

/** The status a failed client call is counted under: an open breaker refused it (UNAVAILABLE). */
function clientStatus(error: unknown): number {
  if (error instanceof GrpcError) return error.code;
  return error instanceof CircuitOpenError ? Status.UNAVAILABLE : Status.UNKNOWN;
}

/** UNAVAILABLE: the call did not reach a server that could do it, so a retry may succeed. */
const isTransient = (error: unknown): boolean =>
  error instanceof GrpcError && error.code === Status.UNAVAILABLE;

/** The failures that say the downstream is unhealthy (not the caller's own errors, not shedding). */
const isDownstreamFailure = (error: unknown): boolean =>
  error instanceof GrpcError &&
  (error.code === Status.UNAVAILABLE ||
    error.code === Status.DEADLINE_EXCEEDED ||
    error.code === Status.INTERNAL ||
    error.code === Status.UNKNOWN);

type RequestOf<M> = M extends { requestSerialize: (value: infer R) => Buffer } ? R : never;
type ResponseOf<M> = M extends { responseDeserialize: (value: Buffer) => infer R } ? R : never;

/**
 * The typed client of a service definition: each unary method returns a promise (failures are
 * GrpcErrors), each server-streaming method returns the stream.
 */
export type GrpcClient<D> = {
  readonly [K in keyof D]: D[K] extends { requestStream: false; responseStream: false }
    ? (request: RequestOf<D[K]>, options?: CallOptions) => Promise<ResponseOf<D[K]>>
    : D[K] extends { requestStream: false; responseStream: true }
      ? (
          request: RequestOf<D[K]>,
          options?: CallOptions,
        ) => grpc.ClientReadableStream<ResponseOf<D[K]>>
      : never;
} & {
  /** Closes the channel; calls already started finish. */
  close(): void;
  /** The call policy's state (breaker, retries), when the client has one. */
  policyState(): CallPolicyState | undefined;
};

/**
 * The one gRPC client factory, from a service definition (ts-proto's `XServiceService`):
 * insecure loopback/cluster channel, keepalive, a default deadline on every call, a connect
 * timeout (connectTimeoutMs), and a reconnect backoff of 100 ms growing to 5 s. (grpc-js
 * defaults to 1 s growing to 120 s, and while it waits every call fails at once with
 * UNAVAILABLE: after an outage a client would come back minutes late.) Every unary call of every method goes through one function, `unaryCall` below: the place
 * where call policies (retries, breakers) apply.
 */
export function createGrpcClient<D extends grpc.ServiceDefinition>(
  definition: D,
  address: string,
  options: GrpcClientOptions = {},
): GrpcClient<D> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 1_000;
  const defaultDeadlineMs = options.deadlineMs ?? 2_000;
  const open = () =>
    new grpc.Client(address, grpc.credentials.createInsecure(), {
      interceptors: [defaultDeadline(defaultDeadlineMs)],
      'grpc.keepalive_time_ms': 30_000,
      // grpc-js's retry machinery, with no retry policy in a service config, retries only what
      // no server application saw: a stream refused (REFUSED_STREAM, e.g. racing the GOAWAY of
      // a recycled connection) once, transparently, and calls that never left the client. Safe
      // for every call, idempotent or not. Retries after a failure are the call policy's.
      'grpc.enable_retries': 1,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 5_000,
      ...options.channelOptions,
    });
  let channel = open();
  let closed = false;

  /**
   * The connect timeout: while the channel has been trying to connect (CONNECTING, or
   * TRANSIENT_FAILURE: grpc-js keeps a channel there after a failed attempt while it tries
   * again, failing every call at once) for longer than connectTimeoutMs without becoming READY,
   * it is closed and replaced (the stuck attempt's calls fail; later calls use a new connection,
   * which the cluster routes afresh). A target that refuses every attempt gets a new channel
   * every connectTimeoutMs, one attempt each, like a capped backoff. Driven by
   * connectivity-state events, no polling.
   */
  const guard = (watched: grpc.Client) => {
    const ch = watched.getChannel();
    /** When the channel started trying (left READY or IDLE); undefined while it is not. */
    let tryingSince: number | undefined;
    const watch = (state: grpc.connectivityState) => {
      const trying =
        state === grpc.connectivityState.CONNECTING ||
        state === grpc.connectivityState.TRANSIENT_FAILURE;
      tryingSince = trying ? (tryingSince ?? Date.now()) : undefined;
      // A day stands for "no deadline" (setTimeout fires at once past 2^31 ms).
      const deadline =
        tryingSince === undefined ? Date.now() + 86_400_000 : tryingSince + connectTimeoutMs;
      ch.watchConnectivityState(state, deadline, (error) => {
        if (closed || watched !== channel) return;
        if (error && trying) {
          channel = open();
          guard(channel);
          watched.close();
          return;
        }
        watch(ch.getConnectivityState(false));
      });
    };
    watch(ch.getConnectivityState(false));
  };
  guard(channel);

  /** The call's absolute deadline: its own, else now + its relative one, else the default. */
  const deadlineOfCall = (call?: CallOptions): number =>
    call?.deadline ?? Date.now() + (call?.deadlineMs ?? defaultDeadlineMs);
  const callOptions = (call?: CallOptions): Partial<grpc.CallOptions> =>
    call?.deadline === undefined && call?.deadlineMs === undefined
      ? {}
      : { deadline: deadlineOfCall(call) };
  const idempotentMethods = new Set(options.policy?.idempotent ?? []);
  const handling = (options.metrics ?? unscrapedMetrics()).histogram({
    name: 'grpc_client_handling_seconds',
    help: 'Unary gRPC calls made, by service, method, canonical status code and callee cell',
    labelNames: ['grpc_service', 'grpc_method', 'grpc_code', 'cell'],
    buckets: LATENCY_BUCKETS,
  });
  const timers = new Map<string, (code: number, startedAt: number) => void>();
  /** The timer of a method, made once per client and method. */
  const timerOf = (path: string) => {
    let timer = timers.get(path);
    if (!timer) {
      timer = methodTimer(handling, { ...methodLabels(path), cell: options.cell ?? '' });
      timers.set(path, timer);
    }
    return timer;
  };
  const policy: CallPolicy | undefined =
    options.policy &&
    createCallPolicy({
      downstream: options.policy.downstream,
      logger: options.policy.logger,
      isTransient,
      isFailure: isDownstreamFailure,
    });

  /** What every call of a method sends: its path, codecs, the request, metadata and options. */
  const callArgs = <Req, Res>(method: grpc.MethodDefinition<Req, Res>, req: Req, c?: CallOptions) =>
    [
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      req,
      new grpc.Metadata(),
      callOptions(c),
    ] as const;

  function unaryCall<Req, Res>(
    name: string,
    method: grpc.MethodDefinition<Req, Res>,
    request: Req,
    call?: CallOptions,
  ): Promise<Res> {
    // Every attempt (a retry included) carries the same absolute deadline as the first.
    const deadline = deadlineOfCall(call);
    const observe = timerOf(method.path);
    const startedAt = performance.now();
    const attempt = () =>
      new Promise<Res>((resolve, reject) => {
        channel.makeUnaryRequest(...callArgs(method, request, { deadline }), (error, response) =>
          error ? reject(GrpcError.fromServiceError(error)) : resolve(response as Res),
        );
      });
    const result = policy
      ? policy.run(attempt, {
          idempotent: call?.idempotent ?? idempotentMethods.has(name),
          deadline,
        })
      : attempt();
    return result.then(
      (response) => {
        observe(Status.OK, startedAt);
        return response;
      },
      (error: unknown) => {
        observe(clientStatus(error), startedAt);
        throw error;
      },
    );
  }

  const client: Record<string, unknown> = {
    close: () => {
      closed = true;
      channel.close();
    },
    policyState: () => policy?.state,
  };
  for (const [name, method] of Object.entries(definition)) {
    if (method.requestStream) continue; // client streams: not used by the platform
    client[name] = method.responseStream
      ? (request: unknown, call?: CallOptions) =>
          channel.makeServerStreamRequest(...callArgs(method, request, call))
      : (request: unknown, call?: CallOptions) => unaryCall(name, method, request, call);
  }
  return client as GrpcClient<D>;
}
