import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE } from './problem.js';

/**
 * The parts every edge's OpenAPI 3.1 document shares (the gateway's public API, the control
 * plane's admin API): the problem schema and the problem responses with the headers that come
 * with some statuses.
 */

/** RFC 9457 problem details, the body of every error response (HttpProblem.toJSON). */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    /** Machine-readable cause where one exists, e.g. idempotency_key_reused. */
    reason: z.string().optional(),
    /** Each invalid field of a 400: a JSON Pointer into the body, or the parameter/header name. */
    errors: z
      .array(
        z.object({
          detail: z.string(),
          pointer: z.string().optional(),
          parameter: z.string().optional(),
          header: z.string().optional(),
        }),
      )
      .optional(),
  })
  .meta({ title: 'Problem' });

export type Problem = z.infer<typeof problemSchema>;

type JsonObject = Record<string, unknown>;

/** A response header: its description and schema; `required` when every such response has it. */
export const responseHeader = (
  description: string,
  schema: JsonObject = { type: 'string' },
  required = false,
): JsonObject => ({ description, ...(required ? { required: true } : {}), schema });

/** Headers that come with every response of a status. */
const PROBLEM_HEADERS: Record<number, JsonObject> = {
  401: { 'WWW-Authenticate': responseHeader('Bearer', { type: 'string' }, true) },
  429: {
    'Retry-After': responseHeader(
      'Seconds until a request may succeed.',
      { type: 'integer', minimum: 0 },
      true,
    ),
  },
  503: {
    'Retry-After': responseHeader(
      'Seconds until a request may succeed.',
      { type: 'integer', minimum: 0 },
      true,
    ),
  },
};

/**
 * Problem responses for the given statuses, each referring to the Problem component schema
 * (`problemRef`), with the headers that come with some of them.
 */
export function problemResponses(problemRef: string, ...statuses: number[]): JsonObject {
  return Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {
        description: STATUS_CODES[status],
        ...(PROBLEM_HEADERS[status] ? { headers: PROBLEM_HEADERS[status] } : {}),
        content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: problemRef } } },
      },
    ]),
  );
}

/**
 * What any request can get whatever its operation: 400 (a path that is not valid
 * percent-encoded UTF-8, a header that may appear once sent twice, a request Node cannot parse),
 * 408 (headers not received in time), 431 (headers over Node's limit) and 500.
 */
export const ANY_REQUEST_STATUSES = [400, 408, 431, 500] as const;

/**
 * Problem responses (referring to `#/components/schemas/Problem`) for the given statuses and
 * those any request can get, sorted: what each operation of an edge's document lists.
 */
export function edgeProblems(...statuses: number[]): JsonObject {
  const all = [...new Set([...statuses, ...ANY_REQUEST_STATUSES])].sort((a, b) => a - b);
  return problemResponses('#/components/schemas/Problem', ...all);
}

/** The paths every edge serves without credentials: its OpenAPI document and its probes. */
export function operationalPaths(readinessSummary = 'Readiness probe'): JsonObject {
  const unauthenticated: JsonObject[] = [];
  return {
    '/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        summary: 'This document',
        security: unauthenticated,
        responses: {
          200: { description: 'OpenAPI 3.1 document', content: { 'application/json': {} } },
          ...edgeProblems(),
        },
      },
    },
    '/healthz': {
      get: {
        operationId: 'liveness',
        summary: 'Liveness probe',
        security: unauthenticated,
        responses: { 200: { description: 'Alive' }, ...edgeProblems() },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readiness',
        summary: readinessSummary,
        security: unauthenticated,
        responses: {
          200: { description: 'Ready' },
          ...edgeProblems(),
          503: { description: 'Not ready' },
        },
      },
    },
  };
}
