/**
 * A TCP proxy a test can freeze: a network partition that neither side
 * notices. While frozen, connections stay open and nothing passes through —
 * not even a close: a process behind it goes on as if its peer were only
 * slow, as a process would during a real partition (or after a long pause).
 *
 * @module
 */

export class FreezableProxy {
  readonly port: number;
  #listener: Deno.Listener;
  #thawed: PromiseWithResolvers<void> | null = null;
  #conns = new Set<Deno.Conn>();

  /** Forwards 127.0.0.1:`port` (a free port) to 127.0.0.1:`targetPort`. */
  constructor(targetPort: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accept(targetPort).catch(() => {});
  }

  freeze(): void {
    this.#thawed ??= Promise.withResolvers<void>();
  }

  thaw(): void {
    this.#thawed?.resolve();
    this.#thawed = null;
  }

  close(): void {
    this.thaw();
    this.#listener.close();
    for (const c of this.#conns) this.#closeConn(c);
  }

  async #accept(targetPort: number): Promise<void> {
    for await (const client of this.#listener) {
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort }).catch(
        () => null,
      );
      if (!upstream) {
        client.close();
        continue;
      }
      this.#conns.add(client).add(upstream);
      this.#pipe(client, upstream);
      this.#pipe(upstream, client);
    }
  }

  async #pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        // Data and end of stream alike wait while frozen.
        while (this.#thawed) await this.#thawed.promise;
        if (n === null) break;
        for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
      }
    } catch {
      // either side went away: close both
    } finally {
      this.#closeConn(from);
      this.#closeConn(to);
    }
  }

  #closeConn(c: Deno.Conn): void {
    if (!this.#conns.delete(c)) return;
    try {
      c.close();
    } catch { /* already closed */ }
  }
}
