import { loadCellServiceConfig, type CellServiceConfig } from '@bulkhead/cell-service';

export type InventoryConfig = CellServiceConfig;

/** Inventory serves gRPC on 7112 and probes on 9112 by default (cell-1's ports locally). */
export function loadInventoryConfig(
  source: Record<string, string | undefined> = process.env,
): InventoryConfig {
  return loadCellServiceConfig('inventory', { grpc: 7112, ops: 9112 }, source);
}
