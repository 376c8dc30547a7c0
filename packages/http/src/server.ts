import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpServer {
  readonly port: number;
  /**
   * Stops accepting connections and lets in-flight requests finish; their connections close
   * after the response instead of lingering as keep-alive. Whatever is left after graceMs is cut.
   */
  close(graceMs: number): Promise<void>;
}

/** Serves a request listener (e.g. an express app) on host:port (0 = a random port). */
export async function listenHttp(
  listener: http.RequestListener,
  host: string,
  port: number,
): Promise<HttpServer> {
  const server = http.createServer(listener);
  server.keepAliveTimeout = 5_000;
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
