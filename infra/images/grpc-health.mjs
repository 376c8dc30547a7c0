// grpc.health.v1 Check against HOST:PORT, for smoke.sh:
//   node infra/images/grpc-health.mjs HOST:PORT [SERVICE] [DEADLINE_MS]
// Exits 0 when the answer is SERVING, 1 otherwise (the status or error on stderr). Uses the
// workspace's own @grpc/grpc-js and grpc-health-check (those of @bulkhead/grpc), so it needs
// `make deps`, nothing else.
import { createRequire } from 'node:module';
import { URL } from 'node:url';

const require = createRequire(new URL('../../packages/grpc/package.json', import.meta.url));
const grpc = require('@grpc/grpc-js');
const { service } = require('grpc-health-check');

const [address, name = '', deadlineMs = '2000'] = process.argv.slice(2);
if (!address) {
  console.error('usage: grpc-health.mjs HOST:PORT [SERVICE] [DEADLINE_MS]');
  process.exit(2);
}
const Health = grpc.makeGenericClientConstructor(service, 'Health');
const client = new Health(address, grpc.credentials.createInsecure());
client.check(
  { service: name },
  { deadline: Date.now() + Number(deadlineMs) },
  (error, response) => {
    client.close();
    if (error) {
      console.error(`${address}: ${error.message}`);
      process.exit(1);
    }
    if (response.status !== 'SERVING') {
      console.error(`${address}: ${response.status}`);
      process.exit(1);
    }
    process.exit(0);
  },
);
