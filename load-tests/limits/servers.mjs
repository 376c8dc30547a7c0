// The bare servers of load-tests/limits.sh, each on 127.0.0.1 on a free port, until SIGTERM:
//   node load-tests/limits/servers.mjs http   node:http: 200 with a tiny JSON body, keep-alive
//   node load-tests/limits/servers.mjs grpc   @grpc/grpc-js (the platform's version): the unary
//                                             Echo of echo.proto, answering the request's bytes
// Prints one line, the port, once it listens.
import { Buffer } from 'node:buffer';
import http from 'node:http';
import grpc from '@grpc/grpc-js';

const BODY = JSON.stringify({ ok: true });
const identity = (bytes) => bytes;
// A hand-written service definition: the request is passed through undecoded, so what is
// measured is the transport (HTTP/2, framing, grpc-js's call handling), not protobuf.
const ECHO_SERVICE = {
  echo: {
    path: '/bulkhead.limits.v1.EchoService/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

function startHttp() {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(BODY),
    });
    res.end(BODY);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
  return () => server.close();
}

function startGrpc() {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, { echo: (call, callback) => callback(null, call.request) });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
    if (error) {
      console.error(`grpc: bind failed: ${error.message}`);
      process.exit(1);
    }
    console.log(port);
  });
  return () => server.forceShutdown();
}

const mode = process.argv[2];
const start = { http: startHttp, grpc: startGrpc }[mode];
if (!start) {
  console.error('usage: node load-tests/limits/servers.mjs http|grpc');
  process.exit(2);
}
const stop = start();
process.once('SIGTERM', () => {
  stop();
  process.exit(0);
});
