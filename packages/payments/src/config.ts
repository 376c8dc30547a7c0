import { loadCellServiceConfig, type CellServiceConfig } from '@bulkhead/cell-service';

export type PaymentsConfig = CellServiceConfig;

/** Payments serves gRPC on 7113 and probes on 9113 by default (cell-1's ports locally). */
export function loadPaymentsConfig(
  source: Record<string, string | undefined> = process.env,
): PaymentsConfig {
  return loadCellServiceConfig('payments', { grpc: 7113, ops: 9113 }, source);
}
