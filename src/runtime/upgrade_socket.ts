/**
 * Connections switched away from HTTP by an `Upgrade` ({@linkcode ByteChannel}): the client's
 * side (a TCP or TLS connection that sends the upgrade request itself) and the server's (the
 * node:http socket handed over by the server's `upgrade` event, http_server.ts).
 * @module
 */
import type { ByteChannel, UpgradeDialer, UpgradeOutcome } from "../core/mod.ts";

/** Most bytes of an answer's status line and headers read before giving up on it. */
const MAX_HEAD_BYTES = 16 * 1024;
const READ_BYTES = 256 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A dialer over `Deno.connect` (http:) or `Deno.connectTls` (https:, trusting `caCerts` besides
 * the system's roots).
 */
export function upgradeDialer(options: { caCerts?: string[] } = {}): UpgradeDialer {
  return async ({ url, protocol, headers, timeoutMs }) => {
    const target = new URL(url);
    const tls = target.protocol === "https:";
    const hostname = target.hostname.replace(/^\[|\]$/g, "");
    const port = Number(target.port || (tls ? 443 : 80));
    let conn: Deno.Conn | undefined;
    let timedOut = false;
    // A connect to a host that drops packets hangs until the OS gives up (minutes): the timer
    // ends the wait itself, and a connection made after it is closed.
    const expired = Promise.withResolvers<never>();
    expired.promise.catch(() => {});
    const timer = setTimeout(() => {
      timedOut = true;
      closeQuietly(conn);
      expired.reject(new Error(`no connection to ${target.host} within ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      const connecting = tls
        ? Deno.connectTls({ hostname, port, caCerts: options.caCerts })
        : Deno.connect({ hostname, port });
      connecting.then((late) => timedOut && closeQuietly(late), () => {});
      conn = await Promise.race([connecting, expired.promise]);
      if (timedOut) throw new Error(`no connection to ${target.host} within ${timeoutMs} ms`);
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      const lines = [`GET ${target.pathname || "/"} HTTP/1.1`, `Host: ${target.host}`];
      lines.push("Connection: Upgrade", `Upgrade: ${protocol}`);
      for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
      await writeAll(conn, encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
      const outcome = await readAnswer(conn);
      if (outcome.status !== 101) closeQuietly(conn);
      return outcome;
    } catch (error) {
      closeQuietly(conn);
      if (timedOut) {
        throw new Error(`no answer to the upgrade from ${target.host} within ${timeoutMs} ms`);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };
}

/** Reads the answer's head; a 101 keeps the connection (and any bytes after the head). */
async function readAnswer(conn: Deno.Conn): Promise<UpgradeOutcome> {
  let head: Uint8Array = new Uint8Array(0);
  const buffer = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("the server closed the connection without answering");
    head = join(head, buffer.subarray(0, n));
    const end = indexOfBlankLine(head);
    if (end >= 0) {
      const text = decoder.decode(head.subarray(0, end));
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? NaN);
      if (!Number.isInteger(status)) {
        throw new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 80))}`);
      }
      const rest = head.slice(end + 4);
      if (status === 101) return { status: 101, channel: new ConnChannel(conn, rest) };
      return { status, body: decoder.decode(rest).slice(0, 300) };
    }
    if (head.length > MAX_HEAD_BYTES) throw new Error("the answer's head is too long");
  }
}

function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

/** The client's side: a Deno connection whose upgrade was accepted. */
class ConnChannel implements ByteChannel {
  #writing: Promise<unknown> = Promise.resolve();

  constructor(private readonly conn: Deno.Conn, private readonly early: Uint8Array) {}

  write(bytes: Uint8Array): Promise<void> {
    const done = this.#writing.then(() => writeAll(this.conn, bytes));
    this.#writing = done.catch(() => {});
    return done;
  }

  start(onData: (chunk: Uint8Array) => void, onEnd: (error?: Error) => void): void {
    const read = async () => {
      if (this.early.length > 0) onData(this.early);
      const buffer = new Uint8Array(READ_BYTES);
      for (;;) {
        const n = await this.conn.read(buffer);
        if (n === null) return;
        onData(buffer.slice(0, n));
      }
    };
    read().then(
      () => {
        closeQuietly(this.conn);
        onEnd();
      },
      (error) => {
        closeQuietly(this.conn);
        onEnd(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  close(): void {
    closeQuietly(this.conn);
  }
}

/** The parts of a node:net socket a {@linkcode ByteChannel} uses. */
export interface NodeSocket {
  write(data: Uint8Array, callback: (error?: Error | null) => void): boolean;
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  once(event: "close", listener: () => void): unknown;
  setNoDelay?(noDelay: boolean): unknown;
  destroy(): void;
}

/** The server's side: the socket node:http hands over with an `upgrade`, and its first bytes. */
export function nodeSocketChannel(socket: NodeSocket, head: Uint8Array): ByteChannel {
  socket.setNoDelay?.(true);
  return {
    write: (bytes) =>
      new Promise((resolve, reject) => {
        socket.write(bytes, (error) => error ? reject(error) : resolve());
      }),
    start(onData, onEnd) {
      let failure: Error | undefined;
      socket.on("error", (error) => failure = error);
      socket.once("close", () => onEnd(failure));
      // A copy: node may hand out views of a buffer it reuses.
      if (head.length > 0) onData(head.slice());
      socket.on("data", (chunk) => onData(Uint8Array.prototype.slice.call(chunk)));
    },
    close: () => socket.destroy(),
  };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch { /* already closed */ }
}
