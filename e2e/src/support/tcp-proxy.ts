import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A loopback TCP proxy that can freeze: while frozen, open connections stay open but no byte is
 * forwarded either way, which is what a stalled watch looks like to a client (a half-dead load
 * balancer, a hung node). Connections made after the freeze are forwarded normally.
 */
export class FreezableProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  readonly #frozen = new Set<Socket>();
  port = 0;

  private constructor(targetPort: number, targetHost: string) {
    this.#server = createServer((client) => this.#accept(client, targetPort, targetHost));
  }

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<FreezableProxy> {
    const proxy = new FreezableProxy(targetPort, targetHost);
    await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve));
    const address = proxy.#server.address();
    proxy.port = typeof address === "object" && address ? address.port : 0;
    return proxy;
  }

  #accept(client: Socket, targetPort: number, targetHost: string): void {
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const forward = (from: Socket, to: Socket): void => {
      from.on("data", (chunk) => {
        if (!this.#frozen.has(from)) to.write(chunk);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      this.#pairs.delete(pair);
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  }

  /** Stops forwarding on every connection open now; returns how many were frozen. */
  freeze(): number {
    for (const [a, b] of this.#pairs) {
      this.#frozen.add(a);
      this.#frozen.add(b);
    }
    return this.#pairs.size;
  }

  async close(): Promise<void> {
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
