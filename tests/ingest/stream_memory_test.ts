/**
 * A large NDJSON body, generated on the fly, streamed into a real server process while its
 * resident memory (VmRSS, as `ps -o rss` reports it) is sampled. The body is never held: the
 * server's RSS must grow by less than the bound below, which does not depend on the body's
 * size: the head is flushed to segments every `EPOCHNEXUS_FLUSH_HEAD_BYTES` (set low here), so
 * the stored points are not retained either.
 *
 * The body is larger than the bound (320 MiB against +277 MB), so a server that read it whole
 * before decoding would fail here: that is what makes this a test of streaming. Size:
 * `EPOCHNEXUS_STREAM_TEST_BYTES` (320 MiB by default; `deno task bench:stream` runs 1 GiB).
 * Each line is one point padded with JSON whitespace to 1 KiB, 1000 series.
 *
 * Two framings: a Content-Length (sent over a plain HTTP/1.1 connection: fetch always chunks a
 * stream) and chunked (fetch), the framing most streaming clients use (`curl -T -`). The
 * server's node:http path decodes both at the same speed with backpressure; Deno.serve, which
 * served before, slowed down and buffered on chunked bodies (body_pause_repro.ts beside this
 * file).
 */
import assert from "node:assert/strict";
import { startServer } from "../_server.ts";

const TOTAL_BYTES = Number(Deno.env.get("EPOCHNEXUS_STREAM_TEST_BYTES") ?? 320 * 1024 * 1024);
const LINE_BYTES = 1024;
/**
 * The server runs with its V8 heap capped at HEAP_CAP_MIB: a body held in memory (or anything
 * growing with the body) would crash it with an out-of-memory. Its RSS may grow by the cap,
 * plus HEAD_FACTOR heads of HEAD_BUDGET (the head's byte count is an estimate, 24 bytes per
 * value, below its real size, and a frozen head is kept while the next one fills), plus FIXED
 * for the young generation, code, the WAL and segment writers' buffers and the runtime's. No
 * term depends on the body's size.
 */
const HEAP_CAP_MIB = 128;
const HEAD_BUDGET = 1024 * 1024;
const HEAD_FACTOR = 8;
const FIXED_BYTES = 128 * 1024 * 1024;
const BOUND = HEAP_CAP_MIB * 1024 * 1024 + HEAD_FACTOR * HEAD_BUDGET + FIXED_BYTES;

/** The process's resident memory: VmRSS, read by `ps` (reading /proc needs --allow-all). */
async function rssBytes(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
  const kb = Number(new TextDecoder().decode(out.stdout).trim());
  if (!out.success || !Number.isFinite(kb) || kb <= 0) throw new Error(`no RSS for pid ${pid}`);
  return kb * 1024;
}

/** The NDJSON body: `lines` lines of exactly LINE_BYTES bytes, made 256 at a time as pulled. */
function* ndjsonChunks(lines: number): Generator<Uint8Array> {
  const enc = new TextEncoder();
  const perChunk = 256;
  for (let line = 0; line < lines;) {
    const n = Math.min(perChunk, lines - line);
    const chunk = new Uint8Array(n * LINE_BYTES).fill(0x20);
    for (let i = 0; i < n; i++, line++) {
      const record = `{"measurement":"stream","tags":{"host":"h${line % 1000}"},` +
        `"value":${line},"timestamp":${1_700_000_000_000 + line}`;
      const at = i * LINE_BYTES;
      enc.encodeInto(record, chunk.subarray(at));
      chunk[at + LINE_BYTES - 2] = 0x7d; // }
      chunk[at + LINE_BYTES - 1] = 0x0a; // \n
    }
    yield chunk;
  }
}

/** The body as a pull stream (fetch sends it chunked). */
function ndjsonStream(lines: number): ReadableStream<Uint8Array> {
  const chunks = ndjsonChunks(lines);
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  }, { highWaterMark: 0 });
}

/**
 * POSTs the body with its Content-Length over a plain HTTP/1.1 connection, writing each chunk
 * as it is made (the socket's backpressure paces the generator), and reads the answer.
 */
async function postWithLength(
  url: string,
  contentType: string,
  lines: number,
): Promise<{ status: number; text: string }> {
  const target = new URL(url);
  const conn = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
  try {
    const enc = new TextEncoder();
    const writeAll = async (bytes: Uint8Array) => {
      for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    };
    await writeAll(enc.encode(
      `POST ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\n` +
        `content-type: ${contentType}\r\ncontent-length: ${lines * LINE_BYTES}\r\n` +
        `connection: close\r\n\r\n`,
    ));
    for (const chunk of ndjsonChunks(lines)) await writeAll(chunk);
    // connection: close, so the answer ends at the end of the stream.
    const answer = new Uint8Array(await new Response(conn.readable).arrayBuffer());
    const text = new TextDecoder().decode(answer);
    const headEnd = text.indexOf("\r\n\r\n");
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
    assert.ok(headEnd > 0 && status > 0, `not an HTTP answer: ${text.slice(0, 200)}`);
    return { status, text: text.slice(headEnd + 4) };
  } finally {
    try {
      conn.close();
    } catch { /* closed by the read */ }
  }
}

for (const framing of ["content-length", "chunked"] as const) {
  Deno.test({
    name: `ndjson: ${TOTAL_BYTES} bytes (${framing}) streamed through a server with bounded memory`,
    sanitizeResources: false,
    fn: () => streamThroughServer(framing, TOTAL_BYTES),
  });
}

async function streamThroughServer(
  framing: "content-length" | "chunked",
  totalBytes: number,
): Promise<void> {
  {
    // A capped V8 heap makes the garbage collector work rather than grow the heap lazily: if
    // the body were held, the server would die with an out-of-memory instead.
    // A body within the bound could be held whole and still pass: refuse to prove nothing.
    assert.ok(
      totalBytes > BOUND,
      `the body (${totalBytes} bytes) must be larger than the bound (${BOUND}) to tell ` +
        `streaming from buffering`,
    );
    const server = await startServer({
      env: {
        DENO_V8_FLAGS: `--max-old-space-size=${HEAP_CAP_MIB}`,
        EPOCHNEXUS_FLUSH_HEAD_BYTES: String(HEAD_BUDGET),
      },
    });
    try {
      const pid = server.process.pid;
      const before = await rssBytes(pid);
      let peak = before;
      let sampling = true;
      const trace: number[] = [];
      let died = false;
      const sampler = (async () => {
        for (let i = 0; sampling; i++) {
          let rss: number;
          try {
            rss = await rssBytes(pid);
          } catch {
            died = true; // the process is gone
            return;
          }
          peak = Math.max(peak, rss);
          if (i % 20 === 0) trace.push(Math.round(rss / 1e6));
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const lines = Math.floor(totalBytes / LINE_BYTES);
      const started = performance.now();
      const url = `${server.url}/ingest?precision=ms`;
      let answer: { status: number; text: string };
      try {
        answer = framing === "content-length"
          ? await postWithLength(url, "application/x-ndjson", lines)
          : await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/x-ndjson" },
            body: ndjsonStream(lines),
          }).then(async (r) => ({ status: r.status, text: await r.text() }));
      } catch (error) {
        sampling = false;
        await sampler;
        throw new Error(
          `the request failed${
            died ? " and the server died (out of memory: was the body held whole?)" : ""
          }; RSS peak ${(peak / 1e6).toFixed(0)} MB, ${(before / 1e6).toFixed(0)} MB before: ` +
            `${error}\n${server.logs().slice(-1500)}`,
        );
      }
      const text = answer.text;
      const seconds = (performance.now() - started) / 1000;
      sampling = false;
      await sampler;
      assert.equal(answer.status, 200, text);
      assert.deepEqual(JSON.parse(text), { accepted: lines, rejected: 0 });
      const growth = peak - before;
      console.log(
        `${framing}: streamed ${(lines * LINE_BYTES / 1e6).toFixed(0)} MB, ${lines} points in ` +
          `${seconds.toFixed(1)} s (${(lines * LINE_BYTES / 1e6 / seconds).toFixed(1)} MB/s, ` +
          `${Math.round(lines / seconds)} points/s); server RSS ${(before / 1e6).toFixed(0)} MB ` +
          `before, peak ${(peak / 1e6).toFixed(0)} MB (+${(growth / 1e6).toFixed(0)} MB, bound ` +
          `+${(BOUND / 1e6).toFixed(0)} MB); ` +
          `every 2 s: ${trace.join(" ")} MB`,
      );
      assert.ok(
        growth < BOUND,
        `server RSS grew by ${growth} bytes, beyond the bound of ${BOUND}`,
      );
      // The bound counts on the head being flushed: it must have been, at least once. The flush
      // runs in the background, so on a loaded machine it may end after the answer: wait for it.
      const flushDeadline = performance.now() + 30_000;
      while (
        !/flushed heads to segments/.test(server.logs()) && performance.now() < flushDeadline
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(
        server.logs(),
        /flushed heads to segments/,
        `no head flush during ${lines} points`,
      );
      const count = await fetch(
        `${server.url}/query?db=epochnexus&q=${
          encodeURIComponent("SELECT count(value) FROM stream")
        }`,
      );
      const result = await count.json();
      assert.equal(result.results[0].series[0].values[0][1], lines);
    } finally {
      await server.stop();
      await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    }
  }
}
