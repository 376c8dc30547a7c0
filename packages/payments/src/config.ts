import { loadCellServiceConfig, type CellServiceConfig } from '@bulkhead/cell-service';

export type PaymentsConfig = CellServiceConfig;

/** The payments service's configuration (default ports: cell-1's, from the manifest). */
export function loadPaymentsConfig(
  source: Record<string, string | undefined> = process.env,
): PaymentsConfig {
  return loadCellServiceConfig('payments', source);
}
