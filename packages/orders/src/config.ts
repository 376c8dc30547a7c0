import { loadCellServiceConfig, type CellServiceConfig } from '@bulkhead/cell-service';

export type OrdersConfig = CellServiceConfig;

/** The orders service's configuration (default ports: cell-1's, from the manifest). */
export function loadOrdersConfig(
  source: Record<string, string | undefined> = process.env,
): OrdersConfig {
  return loadCellServiceConfig('orders', source);
}
