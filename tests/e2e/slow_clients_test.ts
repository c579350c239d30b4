/**
 * Slow and stalled clients against a real server over real sockets: they lose their own
 * connection (and the write slot it held), never the other clients' service.
 *
 * The server runs with short timeouts so the test is quick; the defaults are the same rules
 * at 10 s (headers), 120 s (idle) and 30 s / 500 B/s (body).
 */
import assert from "node:assert/strict";
import { startServer } from "../_server.ts";

const STALLED = 70; // more than max_concurrent_writes (64 by default)
// Long enough that a loaded machine admits all the stalled uploads before the first is cut.
const BODY_TIMEOUT_MS = 4000;
const enc = new TextEncoder();

/** Reads from `conn` until the server closes it; resolves with what arrived (or throws). */
async function readUntilClosed(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(4096);
  let text = "";
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return text;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  } catch {
    return text; // reset by the server: closed too
  }
}

/** Resolves true when `promise` settles within `ms`, false otherwise. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** What the server sent before it closed `closing` (a readUntilClosed); fails after `ms`. */
async function closedWithin(closing: Promise<string>, ms: number, what: string): Promise<string> {
  assert.ok(await within(closing, ms), `${what}: still open after ${ms} ms`);
  return await closing;
}

async function write(url: string, body: string): Promise<number> {
  const r = await fetch(`${url}/write?db=epochnexus`, { method: "POST", body });
  await r.body?.cancel();
  return r.status;
}

Deno.test("stalled uploads lose their own connections; a normal client still writes", async () => {
  const server = await startServer({
    env: {
      EPOCHNEXUS_HTTP_BODY_PROGRESS_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
      EPOCHNEXUS_HTTP_HEADER_TIMEOUT_MS: "1000",
    },
  });
  const conns: Deno.Conn[] = [];
  try {
    // Headers and part of a body, then nothing: each holds a write slot while it waits. The
    // bodies are small enough that 64 of them fit max_queued_write_bytes (a chunked body
    // reserves a whole batch, ~18 MiB, so only a few are chunked).
    for (let i = 0; i < STALLED; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      conns.push(conn);
      const framing = i % 14 !== 0
        ? "content-length: 1000000\r\n\r\n"
        : "transfer-encoding: chunked\r\n\r\n40\r\n";
      await conn.write(enc.encode(
        `POST /write?db=epochnexus HTTP/1.1\r\nhost: x\r\n${framing}` +
          `stalled,conn=c${i} v=1 1700000000000000000\n`,
      ));
    }
    const closed = conns.map((conn) => readUntilClosed(conn));
    // The first 64 to reach the server take every slot; the others are refused with 429 at
    // once (and closed). Wait for those refusals so no probe below competes for a slot.
    let refusedUploads = 0;
    for (const c of closed) c.then((text) => text.startsWith("HTTP/1.1 429") && refusedUploads++);
    const deadline = Date.now() + 20_000;
    while (refusedUploads < STALLED - 64 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(refusedUploads, STALLED - 64, "the stalled uploads did not fill the 64 slots");
    // The slots are taken: a normal write is refused (the attack works)...
    assert.equal(await write(server.url, "probe v=1 1"), 429);
    // ...until the server closes the stalled ones; then it is served again.
    let status = 429;
    while (status !== 204 && Date.now() < deadline) {
      status = await write(server.url, "normal v=1 1700000000000000000");
      if (status !== 204) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 204, "a normal client was refused for 20 s while uploads stalled");
    // Every stalled connection was closed by the server (not by this test).
    assert.ok(
      await within(Promise.all(closed), 10_000),
      "stalled connections still open after the body progress timeout",
    );
    assert.match(server.logs(), /slow client disconnected/);
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed by the server */ }
    }
    await server.stop();
  }
});

Deno.test("a trickling upload, partial headers and an idle connection are closed", async () => {
  const server = await startServer({
    env: {
      EPOCHNEXUS_HTTP_BODY_PROGRESS_TIMEOUT_MS: "1000",
      EPOCHNEXUS_HTTP_BODY_MIN_BYTES_PER_SECOND: "500",
      EPOCHNEXUS_HTTP_HEADER_TIMEOUT_MS: "1000",
      EPOCHNEXUS_HTTP_IDLE_TIMEOUT_MS: "1000",
    },
  });
  const conns: Deno.Conn[] = [];
  const connect = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    conns.push(conn);
    return conn;
  };
  try {
    // One byte every 100 ms never stalls for a second, but averages 10 B/s: below 500 B/s.
    const trickle = await connect();
    await trickle.write(enc.encode(
      "POST /write?db=epochnexus HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n",
    ));
    const trickleClosed = readUntilClosed(trickle);
    let trickling = true;
    const trickler = (async () => {
      for (let i = 0; i < 300 && trickling; i++) {
        try {
          await trickle.write(enc.encode("x"));
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    // Half a request line, then nothing.
    const partial = await connect();
    await partial.write(enc.encode("POST /write?db=epochnexus HTTP/1.1\r\nhost: x\r\n"));
    const partialAnswer = readUntilClosed(partial);
    // Nothing at all.
    const silent = await connect();
    const silentClosed = readUntilClosed(silent);
    // A keep-alive connection after one answered request.
    const idle = await connect();
    await idle.write(enc.encode("GET /ping HTTP/1.1\r\nhost: x\r\n\r\n"));
    const idleAnswer = readUntilClosed(idle);

    await closedWithin(trickleClosed, 15_000, "a trickling upload");
    trickling = false;
    await trickler;
    assert.match(await closedWithin(partialAnswer, 15_000, "partial headers"), /^HTTP\/1\.1 408/);
    // No 408 to a connection that never sent a byte: a client's pool may be sending its first
    // request on it at that very moment, and would read the 408 as its answer.
    assert.equal(await closedWithin(silentClosed, 15_000, "a silent connection"), "");
    assert.match(await closedWithin(idleAnswer, 15_000, "an idle connection"), /^HTTP\/1\.1 204/);
    // A normal request on a fresh connection is still answered.
    assert.equal(
      await fetch(`${server.url}/ping`).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      }),
      204,
    );
    assert.match(server.logs(), /slow client disconnected.*too slow/);
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed by the server */ }
    }
    await server.stop();
  }
});
