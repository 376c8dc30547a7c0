import express, { type ErrorRequestHandler, type RequestHandler, type Router } from 'express';
import { z } from 'zod';
import type { Logger } from '@bulkhead/logger';
import { markRoute } from './metrics.js';
import { HttpProblem, problemFromRequestError, sendProblem } from './problem.js';

/**
 * The idioms every HTTP edge of the platform (the gateway, the control plane's admin API) uses
 * the same way: bearer credentials, JSON bodies validated by a schema, 404/405 and the error
 * handler that answers problem+json.
 */

/** RFC 6750 §2.1: `Authorization: Bearer <b64token>`. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export type BearerCredentials =
  /** No credentials of the Bearer scheme (RFC 6750 §3.1: answer without an error code). */
  | { kind: 'absent' }
  /** The Bearer scheme, but not a b64token. */
  | { kind: 'malformed' }
  | { kind: 'token'; token: string };

/** Reads the bearer token of an Authorization header. */
export function bearerCredentials(header: string | undefined): BearerCredentials {
  if (!/^bearer\b/i.test(header ?? '')) return { kind: 'absent' };
  const token = BEARER.exec(header ?? '')?.[1];
  return token === undefined ? { kind: 'malformed' } : { kind: 'token', token };
}

export interface FieldProblem {
  /** JSON Pointer (RFC 6901) into the body, for body fields. */
  pointer?: string;
  /** The path or query parameter, or the header, for those. */
  parameter?: string;
  header?: string;
  detail: string;
}

function jsonPointer(path: readonly PropertyKey[]): string {
  return path
    .map((part) => '/' + String(part).replaceAll('~', '~0').replaceAll('/', '~1'))
    .join('');
}

/** One entry per invalid field of a body; unknown fields are reported at their own pointer. */
export function fieldProblems(issues: readonly z.core.$ZodIssue[]): FieldProblem[] {
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          pointer: jsonPointer([...issue.path, key]),
          detail: 'unknown field',
        }))
      : [{ pointer: jsonPointer(issue.path), detail: issue.message }],
  );
}

/**
 * A free-text field of a body from its rule (`textRule` in @bulkhead/contracts): validated by
 * the whole rule, published in the JSON Schema as its pattern and bounds, so that a client
 * reading the OpenAPI document knows what the server enforces.
 */
export function textField(rule: {
  pattern: RegExp;
  maxLength: number;
  message: string;
  test: (value: string) => boolean;
}): z.ZodString {
  return z
    .string()
    .refine(rule.test, rule.message)
    .meta({
      pattern: rule.pattern.source,
      minLength: 1,
      maxLength: rule.maxLength,
      description: `${rule.message[0]?.toUpperCase() ?? ''}${rule.message.slice(1)} (well-formed Unicode: a lone surrogate is rejected).`,
    }) as z.ZodString;
}

/** Validates a body with its schema; a failure is a 400 listing every invalid field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw new HttpProblem(400, 'the request body is invalid', {
    errors: fieldProblems(result.error.issues),
  });
}

/** 415 for a body that is not JSON, then express.json with a size limit (413 above it). */
export function jsonBody(limit: string): RequestHandler[] {
  return [
    (req, _res, next) => {
      // is() is null without a body (validation then reports what is missing), false for other types.
      if (req.is('application/json') === false && req.get('content-length') !== '0') {
        throw new HttpProblem(415, 'the request body must be application/json');
      }
      next();
    },
    express.json({ limit, type: 'application/json' }),
  ];
}

/**
 * Headers of a request that may appear only once. Node keeps the first of a repeated
 * Authorization, Content-Type, Content-Length or Host and drops the rest, and joins others with
 * ", ": either way the request would be read as something other than what was sent.
 */
export const SINGLETON_REQUEST_HEADERS = [
  'authorization',
  'content-length',
  'content-type',
  'host',
] as const;

/** 400 for a request that repeats a header that may appear only once (names in lower case). */
export function singletonHeaders(
  names: readonly string[] = SINGLETON_REQUEST_HEADERS,
): RequestHandler {
  return (req, _res, next) => {
    const repeated = names.filter((name) => (req.headersDistinct[name]?.length ?? 0) > 1);
    if (repeated.length > 0) {
      throw new HttpProblem(
        400,
        `headers that may appear only once are repeated: ${repeated.join(', ')}`,
        {
          errors: repeated.map((header) => ({ header, detail: 'may appear only once' })),
        },
      );
    }
    next();
  };
}

type Method = 'get' | 'put' | 'post' | 'delete' | 'patch';

/**
 * Registers a path's handlers by method; any other method gets 405 with Allow. Every request
 * the path matches is marked with its pattern first (the route label of requestMetrics).
 */
export function resource(
  router: Router,
  path: string,
  methods: Partial<Record<Method, RequestHandler[]>>,
): void {
  const route = router.route(path);
  route.all(markRoute(path));
  const allowed: string[] = [];
  for (const [method, handlers] of Object.entries(methods) as [Method, RequestHandler[]][]) {
    route[method](...handlers);
    allowed.push(method.toUpperCase(), ...(method === 'get' ? ['HEAD'] : []));
  }
  route.all((req) => {
    throw new HttpProblem(
      405,
      `${req.method} is not allowed here; allowed: ${allowed.join(', ')}`,
      {
        headers: { Allow: allowed.join(', ') },
      },
    );
  });
}

/** The last route: 404 for every path no route matched. */
export const noRoute: RequestHandler = (req) => {
  throw new HttpProblem(404, `no route for ${req.method} ${req.path}`);
};

/** The problem to answer for anything a handler threw (see problemHandler). */
export function problemFor(
  error: unknown,
  toProblem: (error: unknown) => HttpProblem | undefined = () => undefined,
): HttpProblem {
  return (
    (error instanceof HttpProblem ? error : undefined) ??
    toProblem(error) ??
    problemFromRequestError(error) ??
    new HttpProblem(500, 'internal error', { cause: error })
  );
}

/**
 * The error handler of an edge: problems are answered as they are, errors raised while reading
 * the request (malformed JSON, a body over the limit) as 4xx, and anything else `toProblem`
 * does not map as 500 without internals. 5xx are logged (with the cause when there is one).
 */
export function problemHandler(
  logger: Logger,
  toProblem: (error: unknown) => HttpProblem | undefined = () => undefined,
): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error);
    const problem = problemFor(error, toProblem);
    if (problem.status >= 500 && !problem.expected) {
      const request = { method: req.method, path: req.path, status: problem.status };
      // Failures with an underlying error are logged with it; an edge's own 503s are not bugs.
      if (problem.cause !== undefined) {
        logger.error({ ...request, err: problem.cause }, 'request failed');
      } else {
        logger.warn({ ...request, detail: problem.detail }, 'request failed');
      }
    }
    sendProblem(res, problem);
  };
}
