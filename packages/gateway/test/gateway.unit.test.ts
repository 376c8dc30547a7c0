import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@bulkhead/config';
import { GrpcError, Status, type grpc } from '@bulkhead/grpc';
import {
  buildOpenApiDocument,
  canonicalJson,
  createOrderInputSchema,
  idempotencyKeySchema,
  loadGatewayConfig,
  openApiSchemas,
  productInputSchema,
  requestFingerprint,
  skuSchema,
} from '../src/index.js';
import { fieldProblems, problemFor } from '@bulkhead/http';
import { problemFromGrpc, toProblem } from '../src/problem.js';

describe('loadGatewayConfig', () => {
  it('applies defaults and requires SNAPSHOT_PATH', () => {
    expect(loadGatewayConfig({ SNAPSHOT_PATH: '/run/bulkhead/routing.json' })).toEqual({
      host: '127.0.0.1',
      port: 8080,
      snapshotPath: '/run/bulkhead/routing.json',
      redisUrl: 'redis://127.0.0.1:16379',
      defaultRateLimitPerSecond: 1000,
      grpcDeadlineMs: 2000,
      ops: { host: '127.0.0.1', port: 9080 },
      admission: { algorithm: 'aimd', maxLimit: 200, slowMs: 500 },
      logLevel: 'info',
    });
    expect(() => loadGatewayConfig({})).toThrow(ConfigError);
    expect(() => loadGatewayConfig({})).toThrow(/SNAPSHOT_PATH/);
    expect(() =>
      loadGatewayConfig({ SNAPSHOT_PATH: 'x', GATEWAY_PORT: '70000', GRPC_DEADLINE_MS: '0' }),
    ).toThrow(/GATEWAY_PORT[\s\S]*GRPC_DEADLINE_MS/);
    expect(() => loadGatewayConfig({ SNAPSHOT_PATH: 'x', ADMISSION_ALGORITHM: 'vegas' })).toThrow(
      /ADMISSION_ALGORITHM/,
    );
  });
});

describe('request fingerprint', () => {
  it('ignores key order and whitespace but not values or array order', () => {
    const body = {
      customerId: 'c',
      items: [
        { sku: 'a', quantity: 1 },
        { sku: 'b', quantity: 2 },
      ],
      paymentToken: 't',
    };
    const reordered = JSON.parse(
      '{"paymentToken":"t","items":[{"quantity":1,"sku":"a"},{"quantity":2,"sku":"b"}],"customerId":"c"}',
    ) as unknown;
    expect(canonicalJson(body)).toBe(
      '{"customerId":"c","items":[{"quantity":1,"sku":"a"},{"quantity":2,"sku":"b"}],"paymentToken":"t"}',
    );
    expect(requestFingerprint(reordered)).toBe(requestFingerprint(body));
    expect(requestFingerprint(body)).toMatch(/^[0-9a-f]{64}$/);
    expect(requestFingerprint({ ...body, paymentToken: 'u' })).not.toBe(requestFingerprint(body));
    expect(requestFingerprint({ ...body, items: [...body.items].reverse() })).not.toBe(
      requestFingerprint(body),
    );
  });

  it('sorts keys by code unit, including digit-like keys', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x"y'], 10: 0, 9: 0 })).toBe(
      '{"10":0,"9":0,"a":[true,null,"x\\"y"],"b":1}',
    );
  });
});

describe('validation schemas', () => {
  it('accepts skus per the pattern only', () => {
    for (const sku of ['a', 'A1', 'mug-blue_350.v2', 'x'.repeat(64)])
      expect(skuSchema.safeParse(sku).success, sku).toBe(true);
    for (const sku of ['', '-a', '.a', 'a b', 'a/b', 'é', 'x'.repeat(65)])
      expect(skuSchema.safeParse(sku).success, sku).toBe(false);
  });

  it('accepts Idempotency-Keys of 1-255 visible ASCII characters', () => {
    for (const key of ['a', '"quoted"', '~'.repeat(255)])
      expect(idempotencyKeySchema.safeParse(key).success).toBe(true);
    for (const key of ['', 'a b', 'tab\t', 'ü', 'k'.repeat(256)])
      expect(idempotencyKeySchema.safeParse(key).success).toBe(false);
  });

  it('bounds product input and rejects unknown fields', () => {
    expect(
      productInputSchema.safeParse({ name: 'n', priceCents: 0, stock: 1_000_000_000 }).success,
    ).toBe(true);
    for (const bad of [
      { name: '', priceCents: 0, stock: 0 },
      { name: 'n', priceCents: -1, stock: 0 },
      { name: 'n', priceCents: 0, stock: 1_000_000_001 },
      { name: 'n', priceCents: 0.5, stock: 0 },
      { name: 'n', priceCents: 0, stock: 0, color: 'red' },
    ]) {
      expect(productInputSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('takes text without control characters or lone surrogates, counting characters', () => {
    const product = (name: string) => ({ name, priceCents: 0, stock: 0 });
    for (const name of ['Mug', ' padded ', 'é', '😀'.repeat(200), 'x'.repeat(200), 'a\u00a0b'])
      expect(productInputSchema.safeParse(product(name)).success, name).toBe(true);
    for (const name of [
      '',
      'a\u0000b',
      'tab\t',
      'line\n',
      'del\u007f',
      'c1\u0085',
      'a\ud800',
      '\udc00b',
      '\udc00\ud800',
      '   ',
      '\u3000\ufeff\u2028',
      '😀'.repeat(201),
      'x'.repeat(201),
    ]) {
      expect(productInputSchema.safeParse(product(name)).success, JSON.stringify(name)).toBe(false);
    }
    const order = { customerId: ' ', items: [{ sku: 'a', quantity: 1 }], paymentToken: 't' };
    expect(createOrderInputSchema.safeParse(order).success).toBe(true);
    for (const bad of ['c\u0000', 'c\ud83d', 'x'.repeat(129), ''])
      expect(createOrderInputSchema.safeParse({ ...order, customerId: bad }).success).toBe(false);
  });

  it('requires 1-50 order lines with unique skus', () => {
    const order = (items: unknown) => ({ customerId: 'c', paymentToken: 't', items });
    const lines = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ sku: `s${i}`, quantity: 1 }));
    expect(createOrderInputSchema.safeParse(order(lines(50))).success).toBe(true);
    expect(createOrderInputSchema.safeParse(order(lines(51))).success).toBe(false);
    expect(createOrderInputSchema.safeParse(order([])).success).toBe(false);
    const duplicate = createOrderInputSchema.safeParse(
      order([
        { sku: 'a', quantity: 1 },
        { sku: 'a', quantity: 1 },
      ]),
    );
    expect(duplicate.error?.issues.map((issue) => issue.message)).toEqual(['skus must be unique']);
  });
});

describe('problems', () => {
  it('reports field problems as JSON Pointers, one per unknown field', () => {
    const result = createOrderInputSchema.safeParse({
      customerId: '',
      items: [{ sku: 'a', quantity: 0, 'x/y': 1 }],
      paymentToken: 't',
      extra: true,
    });
    expect(result.success).toBe(false);
    expect(fieldProblems(result.error?.issues ?? [])).toEqual(
      expect.arrayContaining([
        { pointer: '/customerId', detail: expect.any(String) },
        { pointer: '/items/0/quantity', detail: expect.any(String) },
        { pointer: '/items/0/x~1y', detail: 'unknown field' },
        { pointer: '/extra', detail: 'unknown field' },
      ]),
    );
  });

  it('maps every gRPC status code to a deliberate HTTP status', () => {
    const expected: Record<number, number> = {
      [Status.OK]: 500,
      [Status.CANCELLED]: 503,
      [Status.UNKNOWN]: 500,
      [Status.INVALID_ARGUMENT]: 400,
      [Status.DEADLINE_EXCEEDED]: 504,
      [Status.NOT_FOUND]: 404,
      [Status.ALREADY_EXISTS]: 409,
      [Status.PERMISSION_DENIED]: 500,
      [Status.RESOURCE_EXHAUSTED]: 503,
      [Status.FAILED_PRECONDITION]: 409,
      [Status.ABORTED]: 409,
      [Status.OUT_OF_RANGE]: 400,
      [Status.UNIMPLEMENTED]: 500,
      [Status.INTERNAL]: 500,
      [Status.UNAVAILABLE]: 503,
      [Status.DATA_LOSS]: 500,
      [Status.UNAUTHENTICATED]: 500,
    };
    const codes = Object.values(Status).filter(
      (code): code is grpc.status => typeof code === 'number',
    );
    expect(codes).toHaveLength(17);
    const cases: [GrpcError, number][] = [
      ...codes.map((code): [GrpcError, number] => [
        new GrpcError(code, `secret ${Status[code]}: pg relation orders at 10.0.0.7`),
        expected[code]!,
      ]),
      [new GrpcError(Status.ABORTED, 'busy', 'idempotency_key_in_flight'), 409],
      [new GrpcError(Status.FAILED_PRECONDITION, 'reused', 'idempotency_key_reused'), 422],
      [new GrpcError(Status.FAILED_PRECONDITION, 'stock below reserved'), 409],
    ];
    for (const [error, status] of cases) {
      const problem = problemFromGrpc(error);
      expect(problem.status, Status[error.code]).toBe(status);
      const body = problem.toJSON();
      expect(body).toMatchObject({
        type: 'about:blank',
        status,
        title: expect.any(String),
        detail: expect.any(String),
      });
      if (status >= 500) expect(body.detail).not.toContain(error.message);
      if (status === 503) expect(problem.headers['Retry-After'], Status[error.code]).toBe('1');
    }
    expect(
      problemFromGrpc(
        new GrpcError(Status.FAILED_PRECONDITION, 'r', 'idempotency_key_reused'),
      ).toJSON().reason,
    ).toBe('idempotency_key_reused');
  });

  it('answers a path that is not percent-encoded UTF-8 with 400, not 500', () => {
    let thrown: unknown;
    try {
      decodeURIComponent('%E0%A4%A');
    } catch (error) {
      thrown = error;
    }
    expect(problemFor(thrown, toProblem).status).toBe(400);
  });

  it('never exposes unexpected errors', () => {
    const problem = problemFor(new Error('password=hunter2'), toProblem);
    expect(problem.toJSON()).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: 'internal error',
    });
  });
});

describe('OpenAPI document', () => {
  // What a client reading the document would accept or reject (a JSON Schema 2020-12 validator
  // over the published schemas) must be what the gateway accepts or rejects.
  it('describes the same request bodies the gateway accepts and rejects', () => {
    const doc = buildOpenApiDocument() as { components: { schemas: Record<string, object> } };
    const ajv = new Ajv2020({ strict: false });
    const order = {
      customerId: 'c-1',
      items: [{ sku: 'mug', quantity: 2 }],
      paymentToken: 'tok_visa',
    };
    const product = { name: 'Mug', priceCents: 1200, stock: 5 };
    const cases: [keyof typeof openApiSchemas, unknown][] = [
      ['CreateOrderInput', order],
      ['CreateOrderInput', { ...order, items: [] }],
      ['CreateOrderInput', { ...order, items: [{ sku: 'bad sku!', quantity: 1 }] }],
      ['CreateOrderInput', { ...order, items: [{ sku: 'mug', quantity: 0 }] }],
      ['CreateOrderInput', { ...order, items: [{ sku: 'mug', quantity: 1.5 }] }],
      ['CreateOrderInput', { ...order, extra: true }],
      ['CreateOrderInput', { ...order, customerId: '' }],
      ['CreateOrderInput', { customerId: 'c-1', items: order.items }],
      ['ProductInput', product],
      ['ProductInput', { ...product, priceCents: -1 }],
      ['ProductInput', { ...product, stock: 1e10 }],
      ['ProductInput', { ...product, name: '' }],
      ['ProductInput', { name: 'Mug', priceCents: 1 }],
      ['ProductInput', { ...product, name: 'a\u0000b' }],
      ['ProductInput', { ...product, name: 'bell\u0007' }],
      ['ProductInput', { ...product, name: '  \u3000' }],
      ['ProductInput', { ...product, name: '😀'.repeat(201) }],
      ['ProductInput', { ...product, name: '😀'.repeat(200) }],
      ['CreateOrderInput', { ...order, paymentToken: 'x'.repeat(129) }],
    ];
    for (const [name, body] of cases) {
      const byDocument = ajv.validate(doc.components.schemas[name]!, body);
      const byGateway = openApiSchemas[name].safeParse(body).success;
      expect(byDocument, `${name} ${JSON.stringify(body)}`).toBe(byGateway);
    }
    expect(
      cases.filter(([name, body]) => openApiSchemas[name].safeParse(body).success),
    ).toHaveLength(3);
  });

  it('lists 429 and 503 with Retry-After, and every status the edge answers, for each tenant operation', () => {
    const doc = buildOpenApiDocument() as {
      paths: Record<
        string,
        Record<
          string,
          {
            security?: unknown[];
            responses: Record<string, { headers?: Record<string, { required?: boolean }> }>;
          }
        >
      >;
    };
    const tenantOperations = Object.values(doc.paths).flatMap((item) =>
      Object.entries(item)
        .filter(([key, op]) => key !== 'parameters' && op.security === undefined)
        .map(([, op]) => op),
    );
    expect(tenantOperations).toHaveLength(4);
    for (const { responses } of tenantOperations) {
      for (const status of ['400', '401', '408', '429', '431', '500', '503', '504'])
        expect(responses).toHaveProperty(status);
      expect(responses['429']?.headers?.['Retry-After']?.required).toBe(true);
      expect(responses['503']?.headers?.['Retry-After']?.required).toBe(true);
    }
    const { put, get } = doc.paths['/v1/products/{sku}']!;
    expect(Object.keys(put!.responses)).toEqual(expect.arrayContaining(['409', '413', '415']));
    expect(Object.keys(get!.responses)).toContain('404');
    expect(Object.keys(doc.paths['/v1/orders']!.post!.responses)).toEqual(
      expect.arrayContaining(['409', '413', '415', '422']),
    );
  });

  it('is OpenAPI 3.1 with every route and the validators as component schemas', () => {
    const doc = buildOpenApiDocument() as {
      openapi: string;
      paths: Record<string, Record<string, { operationId?: string }>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((key) => key !== 'parameters')
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        'GET /healthz',
        'GET /openapi.json',
        'GET /readyz',
        'GET /v1/orders/{id}',
        'GET /v1/products/{sku}',
        'POST /v1/orders',
        'PUT /v1/products/{sku}',
      ].sort(),
    );
    expect(Object.keys(doc.components.schemas).sort()).toEqual(Object.keys(openApiSchemas).sort());
    expect(doc.components.schemas.CreateOrderInput).toMatchObject({ additionalProperties: false });
    // Every $ref resolves.
    for (const [, name] of JSON.stringify(doc).matchAll(/"#\/components\/schemas\/(\w+)"/g)) {
      expect(doc.components.schemas).toHaveProperty(name as string);
    }
  });
});
