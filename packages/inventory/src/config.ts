import { loadCellServiceConfig, type CellServiceConfig } from '@bulkhead/cell-service';

export type InventoryConfig = CellServiceConfig;

/** The inventory service's configuration (default ports: cell-1's, from the manifest). */
export function loadInventoryConfig(
  source: Record<string, string | undefined> = process.env,
): InventoryConfig {
  return loadCellServiceConfig('inventory', source);
}
