import express, { type RequestHandler, type Response } from 'express';
import type { Logger } from '@bulkhead/logger';
import { unscrapedMetrics, type Metrics } from '@bulkhead/metrics';
import { type inventoryV1, ordersV1 } from '@bulkhead/contracts';
import {
  hashApiKey,
  type CellEndpoints,
  type RoutingTable,
  type TenantRoute,
} from '@bulkhead/routing-snapshot';
import { healthRoutes } from '@bulkhead/service-runtime';
import type { CellAdmission, RequestClass } from './admission.js';
import type { CalledService, CellClients } from './cell-clients.js';
import { requestFingerprint } from './fingerprint.js';
import { buildOpenApiDocument } from './openapi.js';
import {
  bearerCredentials,
  HttpProblem,
  jsonBody as jsonBodyOf,
  noRoute,
  parseBody,
  problemHandler,
  requestMetrics,
  resource as resourceOf,
  routeOf,
  SINGLETON_REQUEST_HEADERS,
  singletonHeaders,
} from '@bulkhead/http';
import { sagaBacklogFull, serviceUnavailable, SHED_REASONS, toProblem } from './problem.js';
import type { TenantRateLimiter } from './rate-limit.js';
import {
  createOrderInputSchema,
  idempotencyKeySchema,
  orderIdSchema,
  productInputSchema,
  skuSchema,
  type Order,
  type OrderStatus,
  type Product,
} from './schemas.js';

export interface HttpDeps {
  logger: Logger;
  /** The current routing table; undefined until the first snapshot is loaded. */
  routing: () => RoutingTable | undefined;
  clients: CellClients;
  limiter: TenantRateLimiter;
  admission: CellAdmission;
  defaultRateLimitPerSecond: number;
  /** A request's budget: its calls to the cell share one deadline this long after it arrived. */
  deadlineMs: number;
  isReady: () => boolean;
  /** The app's metrics: RED of the public API, rate-limit rejections per route. */
  metrics?: Metrics;
}

/** The routes behind the per-tenant rate limit (their rejection counters exist from the start). */
const TENANT_ROUTES = ['/v1/products/:sku', '/v1/orders', '/v1/orders/:id'] as const;

/** Who is calling, set by the authenticate middleware. */
interface Caller {
  tenant: TenantRoute;
  cell: CellEndpoints;
  /** When the request's budget runs out (epoch ms): the deadline of every call it makes. */
  deadline: number;
}

const BODY_LIMIT = '64kb';

function callerOf(res: Response): Caller {
  const caller = res.locals.caller as Caller | undefined;
  if (!caller) throw new Error('route is missing the authenticate middleware');
  return caller;
}

/** The snapshot routes the tenant where no endpoint is known (logged where it is found). */
const noEndpoint = (): HttpProblem =>
  serviceUnavailable(
    'the service is temporarily unavailable; retry later',
    SHED_REASONS.serviceUnavailable,
  );

function notFound(detail: string): HttpProblem {
  return new HttpProblem(404, detail);
}

const ORDER_STATUS: Partial<Record<ordersV1.OrderStatus, OrderStatus>> = {
  [ordersV1.OrderStatus.ORDER_STATUS_PENDING]: 'PENDING',
  [ordersV1.OrderStatus.ORDER_STATUS_CONFIRMED]: 'CONFIRMED',
  [ordersV1.OrderStatus.ORDER_STATUS_REJECTED]: 'REJECTED',
};

function toProduct(product: inventoryV1.Product | undefined): Product {
  if (!product) throw new Error('inventory answered without a product');
  const { sku, name, priceCents, available, reserved } = product;
  return { sku, name, priceCents, available, reserved };
}

function toOrder(order: ordersV1.Order | undefined): Order {
  if (!order) throw new Error('orders answered without an order');
  const status = ORDER_STATUS[order.status];
  if (!status) throw new Error(`orders answered with order status ${order.status}`);
  if (!order.createdAt || !order.updatedAt) throw new Error('orders answered without timestamps');
  return {
    id: order.id,
    status,
    items: order.items.map(({ sku, quantity, unitPriceCents }) => ({
      sku,
      quantity,
      unitPriceCents,
    })),
    totalCents: order.totalCents,
    ...(order.reason ? { reason: order.reason } : {}),
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  };
}

/** The Express app of the public API: probes, OpenAPI, and the tenant routes. */
export function createHttpApp(deps: HttpDeps): express.Express {
  const { logger, clients } = deps;
  const openApiDocument = buildOpenApiDocument();
  const probes = healthRoutes(deps.isReady);
  const metrics = deps.metrics ?? unscrapedMetrics();
  const rateLimited = metrics.counter({
    name: 'rate_limit_rejections_total',
    help: 'Requests refused 429 by the per-tenant rate limit, by route pattern',
    labelNames: ['route'],
  });
  for (const route of TENANT_ROUTES) rateLimited.labels(route).inc(0);

  const authenticate: RequestHandler = (req, res, next) => {
    const deadline = Date.now() + deps.deadlineMs;
    const table = deps.routing();
    if (!table) {
      throw new HttpProblem(503, 'the gateway has no routing snapshot yet; retry later', {
        headers: { 'Retry-After': '1' },
      });
    }
    const credentials = bearerCredentials(req.get('authorization'));
    if (credentials.kind === 'absent') {
      // No credentials for this scheme (RFC 6750 §3.1: no error code then).
      throw new HttpProblem(401, 'an API key is required: Authorization: Bearer <api key>', {
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    // A map lookup by SHA-256 of the key: nothing about the stored hashes leaks through timing.
    const tenant =
      credentials.kind === 'token'
        ? table.tenantByKeyHash(hashApiKey(credentials.token))
        : undefined;
    if (!tenant) {
      throw new HttpProblem(401, 'the API key is malformed or unknown', {
        headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
      });
    }
    const cell = table.cell(tenant.cellId);
    if (!cell) {
      logger.error(
        { tenantId: tenant.id, cellId: tenant.cellId },
        'routing snapshot has no endpoints for the cell',
      );
      throw noEndpoint();
    }
    const caller: Caller = { tenant, cell, deadline };
    res.locals.caller = caller;
    next();
  };

  /** The client of a service of the caller's cell (503 if the snapshot has no endpoint for it). */
  const client = <S extends CalledService>(res: Response, service: S) => {
    const { tenant, cell } = callerOf(res);
    const address = cell.endpoints[service];
    if (!address) {
      logger.error(
        { tenantId: tenant.id, cellId: cell.id, service },
        'routing snapshot has no endpoint for the service',
      );
      throw noEndpoint();
    }
    return clients.client(cell.id, service, address);
  };

  /**
   * Makes a call to the caller's cell if admission control lets it in (the cell's adaptive
   * concurrency limit for this class of request, fair between tenants); otherwise 503 with
   * Retry-After at once, before anything reaches the cell.
   */
  const admitted = async <T>(res: Response, kind: RequestClass, call: () => Promise<T>) => {
    const { tenant, cell } = callerOf(res);
    const result = await deps.admission.run(cell.id, kind, tenant.id, call);
    if (!result.admitted) {
      throw serviceUnavailable(
        'the cell is at its capacity; retry later',
        SHED_REASONS.cellAtCapacity,
      );
    }
    return result.value;
  };
  /** The call options of every call a request makes: its deadline (and idempotency). */
  const callOptions = (res: Response, idempotent?: boolean) => ({
    deadline: callerOf(res).deadline,
    ...(idempotent === undefined ? {} : { idempotent }),
  });

  const rateLimit: RequestHandler = async (_req, res, next) => {
    const { tenant } = callerOf(res);
    const limit = tenant.rateLimitPerSecond || deps.defaultRateLimitPerSecond;
    const decision = await deps.limiter.consume(tenant.id, limit);
    if (!decision.allowed) {
      rateLimited.labels(routeOf(res)).inc();
      throw new HttpProblem(429, `rate limit of ${limit} requests per second exceeded`, {
        headers: { 'Retry-After': String(decision.retryAfterSeconds) },
      });
    }
    next();
  };

  const jsonBody = jsonBodyOf(BODY_LIMIT);

  /** New orders for a cell whose saga backlog is full: 503 at once (CellAdmission). */
  const sagaBacklogGate: RequestHandler = (_req, res, next) => {
    if (deps.admission.sagaBacklogFull(callerOf(res).cell.id)) throw sagaBacklogFull();
    next();
  };

  const tenantRoute = (...handlers: RequestHandler[]): RequestHandler[] => [
    authenticate,
    rateLimit,
    ...handlers,
  ];

  const getProduct: RequestHandler = async (req, res) => {
    const { tenant } = callerOf(res);
    const sku = skuSchema.safeParse(req.params.sku);
    if (!sku.success) throw notFound('no such product');
    const reply = await admitted(res, 'read', () =>
      client(res, 'inventory').getProduct({ tenantId: tenant.id, sku: sku.data }, callOptions(res)),
    );
    res.json(toProduct(reply.product));
  };

  const putProduct: RequestHandler = async (req, res) => {
    const { tenant } = callerOf(res);
    const sku = skuSchema.safeParse(req.params.sku);
    if (!sku.success) {
      throw new HttpProblem(400, 'the sku is invalid', {
        errors: [{ parameter: 'sku', detail: sku.error.issues[0]?.message ?? 'invalid' }],
      });
    }
    const input = parseBody(productInputSchema, req.body);
    const reply = await admitted(res, 'write', () =>
      client(res, 'inventory').upsertProduct(
        { tenantId: tenant.id, sku: sku.data, ...input },
        callOptions(res),
      ),
    );
    res.json(toProduct(reply.product));
  };

  const createOrder: RequestHandler = async (req, res) => {
    const { tenant } = callerOf(res);
    const rawKey = req.get('idempotency-key');
    const key = rawKey === undefined ? undefined : idempotencyKeySchema.safeParse(rawKey);
    if (key && !key.success) {
      throw new HttpProblem(400, 'the Idempotency-Key header is invalid', {
        errors: [{ header: 'Idempotency-Key', detail: key.error.issues[0]?.message ?? 'invalid' }],
      });
    }
    const input = parseBody(createOrderInputSchema, req.body);
    const request = {
      tenantId: tenant.id,
      customerId: input.customerId,
      items: input.items.map(({ sku, quantity }) => ({ sku, quantity, unitPriceCents: 0 })),
      paymentToken: input.paymentToken,
      idempotencyKey: key?.data ?? '',
      requestFingerprint: key ? requestFingerprint(input) : '',
    };
    // With an Idempotency-Key a repeat is answered from the first: safe to retry.
    const reply = await admitted(res, 'write', () =>
      client(res, 'orders').createOrder(request, callOptions(res, key !== undefined)),
    );
    const order = toOrder(reply.order);
    res.status(202).location(`/v1/orders/${order.id}`);
    if (reply.replayed) res.set('Idempotent-Replayed', 'true');
    res.json(order);
  };

  const getOrder: RequestHandler = async (req, res) => {
    const { tenant } = callerOf(res);
    const id = orderIdSchema.safeParse(req.params.id);
    if (!id.success) throw notFound('no such order');
    const reply = await admitted(res, 'read', () =>
      client(res, 'orders').getOrder({ tenantId: tenant.id, orderId: id.data }, callOptions(res)),
    );
    res.json(toOrder(reply.order));
  };

  const app = express();
  app.disable('x-powered-by');
  app.use(requestMetrics(metrics));
  app.use(singletonHeaders([...SINGLETON_REQUEST_HEADERS, 'idempotency-key']));

  const resource = (path: string, methods: Parameters<typeof resourceOf>[2]): void =>
    resourceOf(app, path, methods);

  const probe: RequestHandler = (req, res, next) => {
    if (!probes(req, res)) next();
  };
  resource('/healthz', { get: [probe] });
  resource('/readyz', { get: [probe] });
  resource('/openapi.json', { get: [(_req, res) => void res.json(openApiDocument)] });
  resource('/v1/products/:sku', {
    get: tenantRoute(getProduct),
    put: tenantRoute(...jsonBody, putProduct),
  });
  // The saga-backlog gate comes before the rate limiter and the body: refusing is then cheap.
  resource('/v1/orders', {
    post: [authenticate, sagaBacklogGate, rateLimit, ...jsonBody, createOrder],
  });
  resource('/v1/orders/:id', { get: tenantRoute(getOrder) });

  app.use(noRoute);
  app.use(problemHandler(logger, toProblem));
  return app;
}
