/**
 * A reproduction, with no EpochNexus code, of why a streamed body slows down and the server's
 * resident memory creeps (tests/ingest/stream_memory_test.ts, the 1 GiB case): a `Deno.serve`
 * handler that reads a streamed request body and pauses now and then (20 ms every 5 MiB by
 * default, as the ingest path does while a batch's WAL fsync is in flight; 1 ms every 256 KiB
 * does the same) reads slower and slower when the body comes from a Deno `fetch` with a
 * ReadableStream body in another process (or from curl fed by a pipe). Measured: 25 -> 1 MB/s,
 * RSS 98 -> 224 MB with a 5 MB heap; without pauses 512 MiB take 3 s. On the EpochNexus server
 * in that state, perf puts ~92% of the CPU in a native memmove under `op_read`. A body sent by
 * `curl -T FILE` keeps its speed under the same pauses.
 *
 *   npx deno@2.9.6 run --allow-net --allow-run tests/ingest/body_pause_repro.ts [MiB] [pause_ms] [every_bytes]
 *
 * Prints the read rate every 2 s. Not a test (nothing here is EpochNexus's to fix); kept so the
 * finding can be checked against a newer Deno.
 * @module
 */
const [mode, ...rest] = Deno.args;

/** The client: streams `mib` MiB of spaces in 256 KiB chunks to `url` with fetch. */
async function client(url: string, mib: number): Promise<void> {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= mib << 20) return controller.close();
      controller.enqueue(new Uint8Array(256 << 10).fill(0x20));
      sent += 256 << 10;
    },
  }, { highWaterMark: 0 });
  const answer = await fetch(url, { method: "POST", body });
  console.log(`client: the server read ${await answer.text()} bytes`);
}

if (mode === "client") {
  await client(rest[0], Number(rest[1]));
} else {
  const mib = Number(Deno.args[0] ?? 512);
  const pauseMs = Number(Deno.args[1] ?? 20);
  const everyBytes = Number(Deno.args[2] ?? 5 << 20);
  const started = performance.now();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const reader = request.body!.getReader();
    let bytes = 0, lastBytes = 0, last = performance.now();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      if (pauseMs > 0 && bytes % everyBytes < value.length) {
        await new Promise((r) => setTimeout(r, pauseMs));
      }
      const now = performance.now();
      if (now - last > 2000) {
        const rate = (bytes - lastBytes) / 1e6 / ((now - last) / 1000);
        const memory = Deno.memoryUsage();
        console.log(
          `${(bytes / 1e6).toFixed(0)} MB read, ${rate.toFixed(1)} MB/s, ` +
            `rss ${(memory.rss / 1e6).toFixed(0)} MB, heap ${
              (memory.heapUsed / 1e6).toFixed(0)
            } MB`,
        );
        last = now;
        lastBytes = bytes;
      }
    }
    console.log(
      `${(bytes / 1e6).toFixed(0)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    return new Response(String(bytes));
  });
  // The client in its own process: in one process the effect does not show.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      new URL(import.meta.url).pathname,
      "client",
      `http://127.0.0.1:${server.addr.port}/`,
      String(mib),
    ],
  }).spawn();
  await child.status;
  await server.shutdown();
}
