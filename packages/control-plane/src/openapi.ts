import { z } from 'zod';
import { LIMITS, textRule } from '@bulkhead/contracts';
import {
  edgeProblems,
  operationalPaths,
  problemSchema,
  responseHeader,
  textField,
} from '@bulkhead/http';

// The admin API's shapes: they validate requests (admin-api.ts) AND generate its OpenAPI
// document, so the documentation cannot drift from what the control plane accepts.

export const createTenantInputSchema = z
  .strictObject({
    name: textField(textRule(LIMITS.maxTenantNameLength, { blank: false })),
  })
  .meta({ title: 'CreateTenantInput' });

export const tenantSchema = z
  .object({ id: z.uuid(), name: z.string(), cell: z.string() })
  .meta({ title: 'Tenant' });

export const createdTenantSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    cell: z.string(),
    apiKey: z.string().meta({ description: 'Shown once: only its SHA-256 is stored.' }),
  })
  .meta({ title: 'CreatedTenant' });

export const cellUsageSchema = z
  .object({ id: z.string(), tenants: z.int().min(0) })
  .meta({ title: 'CellUsage' });

const schemas = {
  CreateTenantInput: createTenantInputSchema,
  Tenant: tenantSchema,
  CreatedTenant: createdTenantSchema,
  CellUsage: cellUsageSchema,
  Problem: problemSchema,
} as const;

type JsonObject = Record<string, unknown>;
type SchemaName = keyof typeof schemas;

const ref = (name: SchemaName): JsonObject => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonObject): JsonObject => ({ 'application/json': { schema } });

const problems = edgeProblems;

/** Builds the OpenAPI 3.1 document of the admin API from the zod schemas it validates with. */
export function buildAdminOpenApiDocument(): JsonObject {
  return {
    openapi: '3.1.1',
    info: {
      title: 'Bulkhead control plane admin API',
      version: '1.0.0',
      description:
        'Tenants and cells. Authenticate with `Authorization: Bearer <admin token>`. ' +
        'Errors are RFC 9457 problem details.',
    },
    security: [{ adminToken: [] }],
    paths: {
      '/v1/tenants': {
        post: {
          operationId: 'createTenant',
          summary: 'Create a tenant in the cell with the fewest tenants; answers its API key once',
          requestBody: { required: true, content: json(ref('CreateTenantInput')) },
          responses: {
            201: {
              description: 'Created',
              headers: { Location: responseHeader('/v1/tenants/{id}', { type: 'string' }, true) },
              content: json(ref('CreatedTenant')),
            },
            ...problems(401, 413, 415),
          },
        },
      },
      '/v1/tenants/{id}': {
        parameters: [
          {
            name: 'id',
            in: 'path',
            required: true,
            schema: { type: 'string', format: 'uuid' },
          },
        ],
        get: {
          operationId: 'getTenant',
          summary: 'Get a tenant (without its key)',
          responses: {
            200: { description: 'The tenant', content: json(ref('Tenant')) },
            ...problems(401, 404),
          },
        },
      },
      '/v1/cells': {
        get: {
          operationId: 'listCells',
          summary: 'Every cell with its number of tenants, by id',
          responses: {
            200: {
              description: 'The cells',
              content: json({ type: 'array', items: ref('CellUsage') }),
            },
            ...problems(401),
          },
        },
      },
      ...operationalPaths(),
    },
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'The admin token' },
      },
      schemas: Object.fromEntries(
        Object.entries(schemas).map(([name, schema]) => [name, z.toJSONSchema(schema)]),
      ),
    },
  };
}
