import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HttpProblem, PROBLEM_CONTENT_TYPE } from './problem.js';

export interface HttpServer {
  readonly port: number;
  /**
   * Stops accepting connections and lets in-flight requests finish; their connections close
   * after the response instead of lingering as keep-alive. Whatever is left after graceMs is cut.
   */
  close(graceMs: number): Promise<void>;
}

/** The status Node itself gives a request it could not parse (as its default clientError handler). */
function clientErrorStatus(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 413;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/**
 * Answers a request Node could not parse (a malformed request line or header, headers over the
 * limit, an unknown method) with problem+json like every other error, then closes the connection.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = clientErrorStatus(error.code);
  const body = JSON.stringify(
    new HttpProblem(
      status,
      status === 431 ? 'the request headers are too large' : 'the request is malformed',
    ),
  );
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\n` +
      `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/** Serves a request listener (e.g. an express app) on host:port (0 = a random port). */
export async function listenHttp(
  listener: http.RequestListener,
  host: string,
  port: number,
): Promise<HttpServer> {
  const server = http.createServer(listener);
  server.keepAliveTimeout = 5_000;
  server.on('clientError', answerClientError);
  let closing = false;
  const inFlight = new Set<http.ServerResponse>();
  // Runs before the app's listener, while headers can still be set.
  server.prependListener('request', (_req, res: http.ServerResponse) => {
    if (closing) res.setHeader('Connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: (graceMs) =>
      new Promise((resolve) => {
        closing = true;
        for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
