import { loadCellServiceConfig, type CellServiceConfig } from '@bulkhead/cell-service';

export type OrdersConfig = CellServiceConfig;

/** Orders serves gRPC on 7111 and probes on 9111 by default (cell-1's ports locally). */
export function loadOrdersConfig(
  source: Record<string, string | undefined> = process.env,
): OrdersConfig {
  return loadCellServiceConfig('orders', { grpc: 7111, ops: 9111 }, source);
}
