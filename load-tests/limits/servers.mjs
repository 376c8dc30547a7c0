// The bare servers of load-tests/limits.sh (and load-tests/telemetry-floor.mjs), each on
// 127.0.0.1 on PORT (default: a free one), until SIGTERM:
//   node load-tests/limits/servers.mjs http [PORT]   node:http: 200 with a tiny JSON body, keep-alive
//   node load-tests/limits/servers.mjs grpc [PORT]   @grpc/grpc-js (the platform's version): the
//                                                    unary Echo of echo.proto, answering the
//                                                    request's bytes
// Prints one line, the port, once it listens.
import { Buffer } from 'node:buffer';
import http from 'node:http';
import grpc from '@grpc/grpc-js';
import { ECHO_SERVICE } from './echo-service.mjs';

const BODY = JSON.stringify({ ok: true });
function startHttp(port) {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(BODY),
    });
    res.end(BODY);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1', () => console.log(server.address().port));
  return () => server.close();
}

function startGrpc(port) {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, { echo: (call, callback) => callback(null, call.request) });
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
    if (error) {
      console.error(`grpc: bind failed: ${error.message}`);
      process.exit(1);
    }
    console.log(bound);
  });
  return () => server.forceShutdown();
}

const [mode, portArg = '0'] = process.argv.slice(2);
const start = { http: startHttp, grpc: startGrpc }[mode];
if (!start || !/^\d+$/.test(portArg)) {
  console.error('usage: node load-tests/limits/servers.mjs http|grpc [PORT]');
  process.exit(2);
}
const stop = start(Number(portArg));
process.once('SIGTERM', () => {
  stop();
  process.exit(0);
});
