import { createGrpcClient, createGrpcServer } from './dist/index.js';
import hc from 'grpc-health-check';
const health = { Check: hc.service.Check };
const host = process.argv[2] ?? 'localhost';
let server = createGrpcServer();
const port = await server.listen('127.0.0.1', 0);
server.setServing(true);
const client = createGrpcClient(health, `${host}:${port}`, { channelOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 5000 } });
console.log(await client.Check({ service: '' }));
await server.shutdown(100);
const t0 = Date.now();
let restarted = 0;
let attempt = 0;
for (;;) {
  try {
    await client.Check({ service: '' }, { deadlineMs: 1000 });
    console.log('ok after restart', Date.now() - restarted, 'ms, attempts', attempt);
    break;
  } catch (e) {
    attempt++;
    if (!restarted && Date.now() - t0 > 8000) {
      server = createGrpcServer();
      await server.listen('127.0.0.1', port);
      server.setServing(true);
      restarted = Date.now();
      console.log('restarted');
    }
    await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
  }
}
client.close(); await server.shutdown(100);
