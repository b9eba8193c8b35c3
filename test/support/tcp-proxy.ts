import { type Server, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP proxy a test owns, on 127.0.0.1, between an app's connection pool and the database: the
 * test cuts the way to the database and restores it, lets connections go half-open or slow, while
 * the server itself runs on untouched (it may be shared with other test files, or be DATABASE_URL's).
 */
export class TcpProxy {
  private readonly links = new Set<Link>();
  private state: 'open' | 'cut' = 'open';
  private delayMs = 0;
  private silencing: RegExp | undefined;

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
  ) {}

  /** Starts a proxy to the host and port of `databaseUrl`. */
  static async start(databaseUrl: string): Promise<TcpProxy> {
    const target = new URL(databaseUrl);
    const server = createServer();
    const proxy = new TcpProxy(server, target);
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** `databaseUrl` (any database on the same server) by way of the proxy. */
  url(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  /** Connections through the proxy now. */
  get connections(): number {
    return this.links.size;
  }

  /**
   * The database is gone: every connection is reset, and new ones are reset as they arrive (as
   * when the server is down and something answers the port with RST).
   */
  cut(): void {
    this.state = 'cut';
    for (const link of this.links) link.reset();
  }

  /** New connections reach the database again; `slow()` and `silenceOn()` are undone too. */
  restore(): void {
    this.state = 'open';
    this.delayMs = 0;
    this.silencing = undefined;
  }

  /**
   * Every connection open now goes half-open: bytes stop in both directions, and neither side gets
   * a FIN or a reset, as when a firewall drops a connection's state or the server's host vanishes.
   * They stay that way for good; new connections pass as usual.
   */
  halfOpen(): number {
    for (const link of this.links) link.silent = true;
    return this.links.size;
  }

  /**
   * From now on, a connection whose client sends bytes matching `pattern` goes half-open as it sends
   * them: they are dropped, and everything after, both ways, with no FIN or reset (as when a
   * middlebox loses a connection's state mid-statement). Other connections pass as usual.
   */
  silenceOn(pattern: RegExp): void {
    this.silencing = pattern;
  }

  /** Connections gone half-open by `silenceOn()`. */
  silenced = 0;

  /** Every chunk, both ways, arrives `delayMs` late (0: at once again). */
  slow(delayMs: number): void {
    this.delayMs = delayMs;
  }

  /** Closes the proxy and every connection through it. */
  async close(): Promise<void> {
    for (const link of this.links) link.reset();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.state === 'cut') {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(
      Number(this.target.port || 5432),
      this.target.hostname,
    );
    const link = new Link(
      client,
      upstream,
      () => this.delayMs,
      (chunk) => {
        if (!this.silencing?.test(chunk.toString('latin1'))) return false;
        this.silenced++;
        return true;
      },
    );
    this.links.add(link);
    void link.closed.then(() => this.links.delete(link));
  }
}

class Link {
  /** Half-open: everything is dropped, nothing is closed. */
  silent = false;
  readonly closed: Promise<void>;

  constructor(
    private readonly client: Socket,
    private readonly upstream: Socket,
    delayMs: () => number,
    /** Whether a chunk from the client silences the link. */
    silences: (chunk: Buffer) => boolean,
  ) {
    const forward = (to: Socket) => {
      // Chunks never overtake each other, even when the delay shrinks while some are held.
      let lastDue = 0;
      let held = 0;
      return (chunk: Buffer) => {
        if (this.silent) return;
        if (to === upstream && silences(chunk)) {
          this.silent = true;
          return;
        }
        const now = Date.now();
        if (delayMs() === 0 && held === 0) {
          to.write(chunk);
          return;
        }
        const due = Math.max(now + delayMs(), lastDue);
        lastDue = due;
        held++;
        setTimeout(() => {
          held--;
          if (!this.silent && !to.destroyed) to.write(chunk);
        }, due - now);
      };
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ]) {
      from.on('error', () => to.destroy());
      from.on('end', () => !this.silent && to.end());
    }
    this.closed = new Promise((resolve) => {
      let open = 2;
      const done = () => --open === 0 && resolve();
      client.on('close', done);
      upstream.on('close', done);
    });
  }

  reset(): void {
    if (!this.client.destroyed) this.client.resetAndDestroy();
    this.upstream.destroy();
  }
}
