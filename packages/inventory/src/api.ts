import { z } from 'zod';
import {
  ERROR_REASONS,
  LIMITS,
  SKU_PATTERN,
  textRule,
  type inventoryV1,
} from '@bulkhead/contracts';
import type { Pool } from '@bulkhead/db';
import { GrpcError, Status, unary } from '@bulkhead/grpc';
import type { Logger } from '@bulkhead/logger';
import { getProduct, upsertProduct } from './stock.js';

const tenantId = z.string().min(1).max(LIMITS.maxIdLength);
const sku = z
  .string()
  .regex(
    SKU_PATTERN,
    'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
  );
const amount = z.number().int().min(0).max(LIMITS.maxAmount);

const nameRule = textRule(LIMITS.maxProductNameLength, { blank: false });

/** An UpsertProduct request; names are counted in characters (code points), not UTF-16 units. */
export const upsertProductSchema = z.object({
  tenantId,
  sku,
  name: z.string().refine(nameRule.test, nameRule.message),
  priceCents: amount,
  stock: amount,
});

export type ProductInput = z.infer<typeof upsertProductSchema>;

const getProductSchema = z.object({ tenantId, sku: z.string().min(1) });

/** The gRPC InventoryService: product administration and lookup. */
export function inventoryService(pool: Pool, logger: Logger): inventoryV1.InventoryServiceServer {
  return {
    upsertProduct: unary(logger, upsertProductSchema, async (request) => {
      const product = await upsertProduct(pool, request);
      if (!product) {
        throw new GrpcError(
          Status.FAILED_PRECONDITION,
          `stock ${request.stock} is below the units currently reserved for ${request.sku}`,
          ERROR_REASONS.stockBelowReserved,
        );
      }
      return { product };
    }),
    getProduct: unary(logger, getProductSchema, async (request) => {
      const product = await getProduct(pool, request.tenantId, request.sku);
      if (!product) throw new GrpcError(Status.NOT_FOUND, `product ${request.sku} not found`);
      return { product };
    }),
  };
}
