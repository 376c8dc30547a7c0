import { runCellService } from '@bulkhead/cell-service';
import { orders } from '@bulkhead/orders';

const exitCode = await runCellService(orders);
// A clean drain lets the process end on its own (telemetry flushes on beforeExit); after a
// failure, whatever still holds the event loop must not keep the process alive.
if (exitCode !== 0) process.exit(exitCode);
