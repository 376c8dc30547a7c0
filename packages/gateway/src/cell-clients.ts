import { createGrpcClient } from '@bulkhead/grpc';
import { inventoryV1, ordersV1 } from '@bulkhead/contracts';
import type { RoutingTable } from '@bulkhead/routing-snapshot';

/**
 * gRPC clients of the cells' services, one per address (a channel multiplexes all calls).
 * A snapshot that moves a cell to a new address gets a new client; clients of addresses no
 * longer in the snapshot are closed by retain().
 */
export class CellClients {
  private readonly orders = new Map<string, ordersV1.OrdersServiceClient>();
  private readonly inventory = new Map<string, inventoryV1.InventoryServiceClient>();

  constructor(private readonly deadlineMs: number) {}

  ordersAt(address: string): ordersV1.OrdersServiceClient {
    let client = this.orders.get(address);
    if (!client) {
      client = createGrpcClient(ordersV1.OrdersServiceClient, address, {
        deadlineMs: this.deadlineMs,
      });
      this.orders.set(address, client);
    }
    return client;
  }

  inventoryAt(address: string): inventoryV1.InventoryServiceClient {
    let client = this.inventory.get(address);
    if (!client) {
      client = createGrpcClient(inventoryV1.InventoryServiceClient, address, {
        deadlineMs: this.deadlineMs,
      });
      this.inventory.set(address, client);
    }
    return client;
  }

  /** Closes the clients whose address the routing table no longer uses (started calls finish). */
  retain(table: RoutingTable): void {
    const cells = table.snapshot.cells;
    closeExcept(this.orders, new Set(cells.map((cell) => cell.ordersAddress)));
    closeExcept(this.inventory, new Set(cells.map((cell) => cell.inventoryAddress)));
  }

  close(): void {
    closeExcept(this.orders, new Set());
    closeExcept(this.inventory, new Set());
  }
}

function closeExcept(clients: Map<string, { close(): void }>, keep: Set<string>): void {
  for (const [address, client] of clients) {
    if (keep.has(address)) continue;
    client.close();
    clients.delete(address);
  }
}
