/**
 * A webhook receiver for tests: records every POST (path, JSON body, arrival time) on a loopback
 * port of its own.
 * @module
 */

/** A notification received. */
export interface Received {
  path: string;
  // deno-lint-ignore no-explicit-any
  body: any;
  atMs: number;
}

/** A running receiver. */
export interface Receiver {
  url: string;
  received: Received[];
  /** Waits (bounded) until `match` holds for a notification; returns it. */
  waitFor(match: (r: Received) => boolean, what: string, timeoutMs?: number): Promise<Received>;
  stop(): Promise<void>;
}

/** Starts a receiver. */
export function startReceiver(): Receiver {
  const received: Received[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const text = await request.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch { /* kept as text */ }
      received.push({ path: new URL(request.url).pathname, body, atMs: Date.now() });
      return new Response(null, { status: 200 });
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    received,
    async waitFor(match, what, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = received.find(match);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(
        `no ${what} within ${timeoutMs} ms; received:\n${JSON.stringify(received, null, 1)}`,
      );
    },
    async stop() {
      await server.shutdown();
    },
  };
}
