import { createHash, timingSafeEqual } from 'node:crypto';
import {
  bearerCredentials,
  HttpProblem,
  jsonBody,
  noRoute,
  parseBody,
  problemHandler,
  requestMetrics,
  resource,
  singletonHeaders,
} from '@bulkhead/http';
import express, { type RequestHandler } from 'express';
import type { Pool } from '@bulkhead/db';
import type { Logger } from '@bulkhead/logger';
import { unscrapedMetrics, type Metrics } from '@bulkhead/metrics';
import { healthRoutes } from '@bulkhead/service-runtime';
import { buildAdminOpenApiDocument, createTenantInputSchema } from './openapi.js';
import { createTenant, findTenant, listCells } from './registry.js';

export interface AdminApiDeps {
  pool: Pool;
  adminToken: string;
  /** Requests per second given to new tenants (0 = the gateway's default). */
  defaultRateLimit: number;
  logger: Logger;
  isReady: () => boolean;
  /** The app's metrics: RED of the admin API. */
  metrics?: Metrics;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** `Authorization: Bearer <token>`, compared in constant time (both sides hashed to equal length). */
function requireBearer(token: string): RequestHandler {
  const expected = sha256(token);
  return (req, _res, next) => {
    const credentials = bearerCredentials(req.get('authorization'));
    if (credentials.kind === 'token' && timingSafeEqual(sha256(credentials.token), expected)) {
      return next();
    }
    throw new HttpProblem(401, 'a valid admin bearer token is required', {
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
  };
}

/** The admin REST API (tenants, cells) plus /healthz, /readyz and /openapi.json, as an express 5 app. */
export function createAdminApi(deps: AdminApiDeps): express.Express {
  const { pool, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.use(requestMetrics(deps.metrics ?? unscrapedMetrics()));
  app.use(singletonHeaders());

  const health = healthRoutes(deps.isReady);
  const probe: RequestHandler = (req, res, next) => {
    if (!health(req, res)) next();
  };
  resource(app, '/healthz', { get: [probe] });
  resource(app, '/readyz', { get: [probe] });
  const openApiDocument = buildAdminOpenApiDocument();
  resource(app, '/openapi.json', { get: [(_req, res) => void res.json(openApiDocument)] });

  const v1 = express.Router();
  v1.use(requireBearer(deps.adminToken));

  resource(v1, '/tenants', {
    post: [
      ...jsonBody('16kb'),
      async (req, res) => {
        const body = parseBody(createTenantInputSchema, req.body);
        const { tenant, apiKey, version } = await createTenant(pool, {
          name: body.name,
          rateLimitPerSecond: deps.defaultRateLimit,
        });
        logger.info({ tenant: tenant.id, cell: tenant.cell, version }, 'tenant created');
        res
          .status(201)
          .location(`/v1/tenants/${tenant.id}`)
          .set('Cache-Control', 'no-store')
          .json({ id: tenant.id, name: tenant.name, cell: tenant.cell, apiKey });
      },
    ],
  });

  resource(v1, '/tenants/:id', {
    get: [
      async (req, res) => {
        const id = String(req.params.id);
        const tenant = UUID.test(id) ? await findTenant(pool, id) : undefined;
        if (!tenant) throw new HttpProblem(404, `tenant ${id} does not exist`);
        res.json({ id: tenant.id, name: tenant.name, cell: tenant.cell });
      },
    ],
  });

  resource(v1, '/cells', {
    get: [
      async (_req, res) => {
        res.json(await listCells(pool));
      },
    ],
  });

  app.use('/v1', v1);
  app.use(noRoute);
  app.use(problemHandler(logger));
  return app;
}
