import type { inventoryV1 } from '@bulkhead/contracts';
import type { Pool } from '@bulkhead/db';
import { GrpcError, Status, unary } from '@bulkhead/grpc';
import type { Logger } from '@bulkhead/logger';
import { productInputProblems } from './reservation.js';
import { getProduct, upsertProduct } from './stock.js';

/** The gRPC InventoryService: product administration and lookup. */
export function inventoryService(pool: Pool, logger: Logger): inventoryV1.InventoryServiceServer {
  return {
    upsertProduct: unary(logger, async (request: inventoryV1.UpsertProductRequest) => {
      const problems = productInputProblems(request);
      if (problems.length > 0) throw new GrpcError(Status.INVALID_ARGUMENT, problems.join('; '));
      const product = await upsertProduct(pool, request);
      if (!product) {
        throw new GrpcError(
          Status.FAILED_PRECONDITION,
          `stock ${request.stock} is below the units currently reserved for ${request.sku}`,
          'stock_below_reserved',
        );
      }
      return { product };
    }),
    getProduct: unary(logger, async (request: inventoryV1.GetProductRequest) => {
      if (request.tenantId === '' || request.sku === '') {
        throw new GrpcError(Status.INVALID_ARGUMENT, 'tenant_id and sku are required');
      }
      const product = await getProduct(pool, request.tenantId, request.sku);
      if (!product) throw new GrpcError(Status.NOT_FOUND, `product ${request.sku} not found`);
      return { product };
    }),
  };
}
