/**
 * A large NDJSON file sent by curl to `POST /ingest`, with a Content-Length (`-T FILE`) and
 * chunked (`-T FILE` with `Transfer-Encoding: chunked`), each into a fresh server started as
 * tests/ingest/stream_memory_test.ts starts it (V8 heap capped at 128 MiB, heads flushed past
 * 1 MiB): ingest rate and the server's resident memory (VmRSS by `ps`, every 100 ms) before and
 * at its peak. The generated-body case (no file, no curl) is that test's:
 * `deno task bench:stream`.
 *
 *   deno task bench:stream-curl          (MIB=1024: the file's size)
 * @module
 */
import { startServer } from "../tests/_server.ts";
import { loadAverage } from "./peers/systems.ts";

const MIB = Number(Deno.env.get("MIB") ?? "1024");
const LINE_BYTES = 1024;

async function rssBytes(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
  return Number(new TextDecoder().decode(out.stdout).trim()) * 1024;
}

/** The body: 1 KiB NDJSON lines (one point each, padded with spaces), 1000 series. */
async function writeFile(path: string, lines: number): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  try {
    for (let line = 0; line < lines;) {
      const n = Math.min(1024, lines - line);
      const chunk = new Uint8Array(n * LINE_BYTES).fill(0x20);
      for (let i = 0; i < n; i++, line++) {
        const at = i * LINE_BYTES;
        enc.encodeInto(
          `{"measurement":"stream","tags":{"host":"h${line % 1000}"},"value":${line},` +
            `"timestamp":${1_700_000_000_000 + line}`,
          chunk.subarray(at),
        );
        chunk[at + LINE_BYTES - 2] = 0x7d; // }
        chunk[at + LINE_BYTES - 1] = 0x0a; // \n
      }
      for (let at = 0; at < chunk.length;) at += await file.write(chunk.subarray(at));
    }
  } finally {
    file.close();
  }
}

async function run(path: string, lines: number, chunked: boolean): Promise<string> {
  const server = await startServer({
    env: {
      DENO_V8_FLAGS: "--max-old-space-size=128",
      EPOCHNEXUS_FLUSH_HEAD_BYTES: String(1024 * 1024),
    },
  });
  try {
    const pid = server.process.pid;
    const before = await rssBytes(pid);
    let peak = before;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rssBytes(pid));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const t0 = performance.now();
    const curl = await new Deno.Command("curl", {
      args: [
        "-sS",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/x-ndjson",
        ...(chunked ? ["-H", "Transfer-Encoding: chunked"] : []),
        "-T",
        path,
        `${server.url}/ingest?precision=ms`,
      ],
    }).output();
    const seconds = (performance.now() - t0) / 1000;
    sampling = false;
    await sampler;
    const answer = new TextDecoder().decode(curl.stdout);
    if (!curl.success || JSON.parse(answer).accepted !== lines) {
      throw new Error(`curl: ${answer} ${new TextDecoder().decode(curl.stderr)}`);
    }
    const mb = lines * LINE_BYTES / 1e6;
    return `${chunked ? "chunked" : "content-length"}: ${mb.toFixed(0)} MB in ${
      seconds.toFixed(1)
    } s = ${(mb / seconds).toFixed(1)} MB/s (${Math.round(lines / seconds)} points/s); RSS ${
      (before / 1e6).toFixed(0)
    } MB before, peak ${(peak / 1e6).toFixed(0)} MB (+${((peak - before) / 1e6).toFixed(0)} MB)`;
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
}

const lines = Math.floor(MIB * 1024 * 1024 / LINE_BYTES);
const path = await Deno.makeTempFile({ prefix: "epochnexus-stream-", suffix: ".ndjson" });
try {
  await writeFile(path, lines);
  for (const chunked of [false, true]) {
    console.log(`curl -T, ${await run(path, lines, chunked)}; load ${await loadAverage()}`);
  }
} finally {
  await Deno.remove(path);
}
