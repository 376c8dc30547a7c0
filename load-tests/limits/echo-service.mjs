// The bare gRPC echo's service definition, shared by its server (servers.mjs) and the clients that
// drive it (telemetry-floor.mjs): raw bytes in and out, so that what is measured is the transport
// (HTTP/2, framing, grpc-js's call handling), not protobuf.
const identity = (bytes) => bytes;

export const ECHO_SERVICE = {
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
