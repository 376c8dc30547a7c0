import { createHash, timingSafeEqual } from 'node:crypto';
import {
  HttpProblem,
  problemFromRequestError,
  sendProblem,
  type ProblemOptions,
} from '@bulkhead/http';
import express, { type ErrorRequestHandler, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { Pool } from '@bulkhead/db';
import type { Logger } from '@bulkhead/logger';
import { healthRoutes } from '@bulkhead/service-runtime';
import { createTenant, findTenant, listCells } from './registry.js';

export interface AdminApiDeps {
  pool: Pool;
  adminToken: string;
  /** Requests per second given to new tenants (0 = the gateway's default). */
  defaultRateLimit: number;
  logger: Logger;
  isReady: () => boolean;
}

const createTenantBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Sends an RFC 9457 problem document. */
function problem(
  res: Response,
  status: number,
  detail: string,
  options: ProblemOptions = {},
): void {
  sendProblem(res, new HttpProblem(status, detail, options));
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** `Authorization: Bearer <token>`, compared in constant time (both sides hashed to equal length). */
function requireBearer(token: string): RequestHandler {
  const expected = sha256(token);
  return (req, res, next) => {
    const match = /^Bearer +(\S+) *$/i.exec(req.get('authorization') ?? '');
    if (match?.[1] && timingSafeEqual(sha256(match[1]), expected)) return next();
    res.set('WWW-Authenticate', 'Bearer');
    problem(res, 401, 'a valid admin bearer token is required');
  };
}

const requireJson: RequestHandler = (req, res, next) => {
  if (req.is('application/json')) return next();
  problem(res, 415, 'the request body must be application/json');
};

function methodNotAllowed(allow: string): RequestHandler {
  return (req, res) => {
    res.set('Allow', allow);
    problem(res, 405, `${req.method} is not allowed here; allowed: ${allow}`);
  };
}

/** The admin REST API (tenants, cells) plus /healthz and /readyz, as an express 5 app. */
export function createAdminApi(deps: AdminApiDeps): express.Express {
  const { pool, logger } = deps;
  const app = express();
  app.disable('x-powered-by');

  const health = healthRoutes(deps.isReady);
  app.get(['/healthz', '/readyz'], (req, res, next) => {
    if (!health(req, res)) next();
  });

  const v1 = express.Router();
  v1.use(requireBearer(deps.adminToken));

  v1.route('/tenants')
    .post(requireJson, express.json({ limit: '16kb' }), async (req, res) => {
      const body = createTenantBody.safeParse(req.body);
      if (!body.success) {
        const errors = body.error.issues.map((i) => ({
          path: i.path.map(String).join('.'),
          message: i.message,
        }));
        return problem(res, 400, 'the request body is invalid', { errors });
      }
      const { tenant, apiKey, version } = await createTenant(pool, {
        name: body.data.name,
        rateLimitPerSecond: deps.defaultRateLimit,
      });
      logger.info({ tenant: tenant.id, cell: tenant.cell, version }, 'tenant created');
      res
        .status(201)
        .location(`/v1/tenants/${tenant.id}`)
        .set('Cache-Control', 'no-store')
        .json({ id: tenant.id, name: tenant.name, cell: tenant.cell, apiKey });
    })
    .all(methodNotAllowed('POST'));

  v1.route('/tenants/:id')
    .get(async (req, res) => {
      const tenant = UUID.test(req.params.id) ? await findTenant(pool, req.params.id) : undefined;
      if (!tenant) return problem(res, 404, `tenant ${req.params.id} does not exist`);
      res.json({ id: tenant.id, name: tenant.name, cell: tenant.cell });
    })
    .all(methodNotAllowed('GET, HEAD'));

  v1.route('/cells')
    .get(async (_req, res) => {
      res.json(await listCells(pool));
    })
    .all(methodNotAllowed('GET, HEAD'));

  app.use('/v1', v1);

  app.use((req, res) => problem(res, 404, `no route for ${req.method} ${req.path}`));

  const onError: ErrorRequestHandler = (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error);
    const clientError = problemFromRequestError(error);
    if (clientError) return sendProblem(res, clientError);
    logger.error(
      { err: error, method: req.method, path: req.path },
      'unhandled error in admin API',
    );
    problem(res, 500, 'internal error');
  };
  app.use(onError);
  return app;
}
