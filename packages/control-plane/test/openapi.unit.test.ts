import { describe, expect, it } from 'vitest';
import { buildAdminOpenApiDocument, createTenantInputSchema } from '../src/index.js';

interface Operation {
  security?: unknown[];
  responses: Record<string, { headers?: Record<string, unknown> }>;
}

describe('admin API OpenAPI document', () => {
  const doc = buildAdminOpenApiDocument() as {
    openapi: string;
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
  };

  it('is OpenAPI 3.1 with every route, each listing what any request can get', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([key]) => key !== 'parameters')
        .map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as const),
    );
    expect(operations.map(([name]) => name).sort()).toEqual(
      [
        'GET /healthz',
        'GET /openapi.json',
        'GET /readyz',
        'GET /v1/cells',
        'GET /v1/tenants/{id}',
        'POST /v1/tenants',
      ].sort(),
    );
    for (const [name, op] of operations) {
      for (const status of ['400', '408', '431', '500'])
        expect(op.responses, name).toHaveProperty(status);
      if (op.security === undefined) expect(op.responses, name).toHaveProperty('401');
    }
    expect(Object.keys(doc.paths['/v1/tenants']!.post!.responses)).toEqual(
      expect.arrayContaining(['201', '413', '415']),
    );
  });

  it('publishes the constraints the API enforces on a tenant name', () => {
    const name = doc.components.schemas.CreateTenantInput?.properties?.name;
    expect(name).toMatchObject({ type: 'string', minLength: 1, maxLength: 100 });
    const { pattern } = name as { pattern: string };
    for (const value of ['acme', ' a ', '😀'.repeat(100), 'a\u0000', '   ', 'x'.repeat(101)]) {
      // The published pattern (lone surrogates aside: no portable pattern names them) and the
      // validator agree.
      expect(new RegExp(pattern, 'u').test(value), JSON.stringify(value)).toBe(
        createTenantInputSchema.safeParse({ name: value }).success,
      );
    }
    expect(createTenantInputSchema.safeParse({ name: 'a\ud800' }).success).toBe(false);
  });
});
