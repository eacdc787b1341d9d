// A TCP proxy in front of the Dojo simulator that can turn into a black hole: connections are still
// accepted but nothing passes either way and nothing is answered, as when a network path drops
// packets. Open connections go silent too. When the hole closes, the held connections are cut (as a
// client would eventually see) and new ones pass again.
import { connect, createServer, type Server, type Socket } from "node:net";

export class BlackholeProxy {
  readonly #target: { readonly host: string; readonly port: number };
  readonly #pairs = new Set<{ client: Socket; upstream: Socket | undefined }>();
  readonly #held = new Set<Socket>();
  #server: Server | undefined;
  #blackhole = false;
  port = 0;

  constructor(targetUrl: string) {
    const url = new URL(targetUrl);
    this.#target = { host: url.hostname, port: Number(url.port) };
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((client) => {
      client.on("error", () => client.destroy());
      if (this.#blackhole) {
        // Accepted, read and never answered.
        this.#held.add(client);
        client.on("close", () => this.#held.delete(client));
        client.resume();
        return;
      }
      const upstream = connect(this.#target);
      upstream.on("error", () => upstream.destroy());
      const pair = { client, upstream };
      this.#pairs.add(pair);
      const forward = (from: Socket, to: Socket) =>
        from.on("data", (chunk) => {
          if (!this.#blackhole) to.write(chunk);
        });
      forward(client, upstream);
      forward(upstream, client);
      const end = () => {
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("close", end);
      upstream.on("close", end);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address !== null && typeof address !== "string") this.port = address.port;
    this.#server = server;
    return this;
  }

  /** From now on nothing passes; open connections go silent. */
  open(): void {
    this.#blackhole = true;
  }

  /** Cuts every connection held silent and lets traffic pass again. */
  close(): void {
    this.#blackhole = false;
    for (const socket of this.#held) socket.destroy();
    this.#held.clear();
    for (const { client, upstream } of this.#pairs) {
      client.destroy();
      upstream?.destroy();
    }
    this.#pairs.clear();
  }

  async stop(): Promise<void> {
    this.close();
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
