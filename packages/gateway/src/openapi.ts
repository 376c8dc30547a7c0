import { z } from 'zod';
import { edgeProblems, operationalPaths, responseHeader } from '@bulkhead/http';
import {
  createOrderInputSchema,
  idempotencyKeySchema,
  orderIdSchema,
  orderSchema,
  problemSchema,
  productInputSchema,
  productSchema,
  skuSchema,
} from './schemas.js';

/** The component schemas of the document, generated from the validators with z.toJSONSchema. */
export const openApiSchemas = {
  ProductInput: productInputSchema,
  Product: productSchema,
  CreateOrderInput: createOrderInputSchema,
  Order: orderSchema,
  Problem: problemSchema,
} as const;

type SchemaName = keyof typeof openApiSchemas;
type JsonObject = Record<string, unknown>;

const ref = (name: SchemaName): JsonObject => ({ $ref: `#/components/schemas/${name}` });

const json = (name: SchemaName): JsonObject => ({ 'application/json': { schema: ref(name) } });

const header = (description: string): JsonObject => responseHeader(description);

const problems = edgeProblems;

const pathParameter = (name: string, schema: z.ZodType): JsonObject => ({
  name,
  in: 'path',
  required: true,
  schema: z.toJSONSchema(schema),
});

/**
 * Errors every tenant call can get besides its own: 401 (no or an unknown key), 429 (over the
 * tenant's rate limit) and 503 (no routing snapshot yet, the cell unavailable or shedding load),
 * both with Retry-After, 504 (the cell did not answer in time).
 */
const tenantCall = [401, 429, 503, 504];

/** Builds the OpenAPI 3.1 document of the public API from the zod schemas the gateway validates with. */
export function buildOpenApiDocument(): JsonObject {
  return {
    openapi: '3.1.1',
    info: {
      title: 'Bulkhead public API',
      version: '1.0.0',
      description:
        'Products and orders of a tenant. Authenticate with `Authorization: Bearer <api key>`. ' +
        'Errors are RFC 9457 problem details.',
    },
    security: [{ apiKey: [] }],
    paths: {
      '/v1/products/{sku}': {
        parameters: [pathParameter('sku', skuSchema)],
        get: {
          operationId: 'getProduct',
          summary: 'Get a product',
          responses: {
            200: { description: 'The product', content: json('Product') },
            ...problems(404, ...tenantCall),
          },
        },
        put: {
          operationId: 'upsertProduct',
          summary: 'Create or replace a product; stock sets the units on hand',
          requestBody: { required: true, content: json('ProductInput') },
          responses: {
            200: { description: 'The product', content: json('Product') },
            ...problems(409, 413, 415, ...tenantCall),
          },
        },
      },
      '/v1/orders': {
        post: {
          operationId: 'createOrder',
          summary: 'Place an order (accepted as PENDING, completed asynchronously)',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: z.toJSONSchema(idempotencyKeySchema),
            },
          ],
          requestBody: { required: true, content: json('CreateOrderInput') },
          responses: {
            202: {
              description: 'Accepted; poll the Location',
              headers: {
                Location: header('/v1/orders/{id}'),
                'Idempotent-Replayed': header(
                  '"true" when this is the stored response to an earlier request',
                ),
              },
              content: json('Order'),
            },
            ...problems(409, 413, 415, 422, ...tenantCall),
          },
        },
      },
      '/v1/orders/{id}': {
        parameters: [pathParameter('id', orderIdSchema)],
        get: {
          operationId: 'getOrder',
          summary: 'Get an order',
          responses: {
            200: { description: 'The order', content: json('Order') },
            ...problems(404, ...tenantCall),
          },
        },
      },
      ...operationalPaths('Readiness probe: ready once a routing snapshot is loaded'),
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: "The tenant's API key" },
      },
      schemas: Object.fromEntries(
        Object.entries(openApiSchemas).map(([name, schema]) => [name, z.toJSONSchema(schema)]),
      ),
    },
  };
}
