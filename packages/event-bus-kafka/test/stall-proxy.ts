import net from 'node:net';
import type { ISocketFactory } from 'kafkajs';

/**
 * A TCP proxy in front of the broker that can stall the network: while held, what the clients
 * send is buffered instead of forwarded (the broker sees nothing, the clients' requests time
 * out); release() delivers it, late, in order. Every kafkajs connection of a bus goes through it
 * (its socketFactory), whatever broker address the metadata names (the local stack has one).
 */
export interface StallProxy {
  socketFactory: ISocketFactory;
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export async function startStallProxy(broker: string): Promise<StallProxy> {
  const [host = '127.0.0.1', port = '19092'] = broker.split(':');
  const connections = new Set<{ flush(): void; destroy(): void }>();
  let held = false;

  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port: Number(port) });
    const queue: Buffer[] = [];
    const connection = {
      flush() {
        for (const chunk of queue.splice(0)) upstream.write(chunk);
      },
      destroy() {
        client.destroy();
        upstream.destroy();
      },
    };
    connections.add(connection);
    client.on('data', (chunk: Buffer) => (held ? queue.push(chunk) : upstream.write(chunk)));
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = (): void => {
      connections.delete(connection);
      connection.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: proxyPort } = server.address() as net.AddressInfo;

  return {
    socketFactory: ({ onConnect }) => {
      const socket = net.connect({ host: '127.0.0.1', port: proxyPort }, onConnect);
      socket.setKeepAlive(true, 60_000);
      return socket;
    },
    hold: () => {
      held = true;
    },
    release: () => {
      held = false;
      for (const connection of connections) connection.flush();
    },
    close: async () => {
      for (const connection of connections) connection.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
