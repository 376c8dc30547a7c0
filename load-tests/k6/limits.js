// The bare limits of load-tests/limits.sh under the same load tool as the platform: closed loop
// (constant-vus), VUS at a time for DURATION, against the server of LIMIT at LIMIT_ADDR
// (host:port, load-tests/limits/servers.mjs):
//   LIMIT=http   GET / of the node:http hello (keep-alive: one connection per VU)
//   LIMIT=grpc   the unary Echo of load-tests/limits/echo.proto (one channel per VU)
// The figures come from the summary (--summary-export): requests or calls per second (http_reqs,
// iterations), their p50/p99, and the checks (every answer 200 or OK).
import http from 'k6/http';
import grpc from 'k6/net/grpc';
import { check } from 'k6';

const LIMIT = __ENV.LIMIT;
const ADDR = __ENV.LIMIT_ADDR;
if (LIMIT !== 'http' && LIMIT !== 'grpc') throw new Error('LIMIT must be http or grpc');
if (!ADDR) throw new Error('LIMIT_ADDR (host:port) is required');

export const options = {
  scenarios: {
    [LIMIT]: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 64),
      duration: __ENV.DURATION || '10s',
      gracefulStop: '2s',
    },
  },
  summaryTrendStats: ['avg', 'med', 'p(99)', 'max'],
  discardResponseBodies: true,
};

const client = new grpc.Client();
if (LIMIT === 'grpc') client.load(['../limits'], 'echo.proto'); // init context; paths from load-tests/k6/
const TEXT = 'hello';

export default function () {
  if (LIMIT === 'http') {
    const res = http.get(`http://${ADDR}/`);
    check(res, { 'status is 200': (r) => r.status === 200 });
    return;
  }
  if (__ITER === 0) client.connect(ADDR, { plaintext: true });
  const res = client.invoke('bulkhead.limits.v1.EchoService/Echo', { text: TEXT });
  check(res, { 'status is OK': (r) => r.status === grpc.StatusOK && r.message.text === TEXT });
}
