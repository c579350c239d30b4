/**
 * A streamed write of unknown length (chunked) reserves what it holds of the in-flight byte
 * bound (`max_queued_write_bytes`): one read of the body, then its batches as they fill and
 * commit; not the most two batches and a line could hold (17 MiB by default, which let only 15
 * chunked bodies in at once).
 */
import assert from "node:assert/strict";
import { setup } from "./_app.ts";

const encoder = new TextEncoder();

/** The value of an unlabelled gauge in a /metrics text. */
function gauge(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

Deno.test("a slow chunked /ingest and /write reserve about one read and their batches, not 17 MiB", async () => {
  const node = await setup({ maxBodyBytes: 64 * 1024 * 1024, ingest: { batchPoints: 1000 } });
  try {
    const reserved = async () =>
      gauge((await node.call("/metrics")).text, "epochnexus_write_bytes_reserved");
    for (const path of ["/ingest", "/write?db=epochnexus"]) {
      // The test hands the body over chunk by chunk and reads the reservation between chunks.
      let sendNext!: (chunk: Uint8Array | null) => void;
      let pulled!: () => void;
      let wasPulled = new Promise<void>((r) => pulled = r);
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const chunk = await new Promise<Uint8Array | null>((r) => {
            sendNext = r;
            pulled();
          });
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        },
      }, { highWaterMark: 0 });
      const answer = node.call(path, {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body,
      });
      const seen: number[] = [];
      let line = 0;
      for (let chunk = 0; chunk < 40; chunk++) { // 40 chunks of 500 lines: 20,000 points
        await wasPulled;
        wasPulled = new Promise<void>((r) => pulled = r);
        seen.push(await reserved());
        let text = "";
        for (let i = 0; i < 500; i++, line++) {
          text += `m,h=h${line % 50} v=${line} 17000000000${String(line).padStart(8, "0")}\n`;
        }
        sendNext(encoder.encode(text));
      }
      await wasPulled;
      seen.push(await reserved());
      sendNext(null);
      const done = await answer;
      assert.ok(done.status === 200 || done.status === 204, `${path}: ${done.status} ${done.text}`);
      const most = Math.max(...seen);
      assert.ok(most > 0, `${path}: the stream reserves something while it runs`);
      // One read (64 KiB) and two batches of 1,000 lines of ~30 bytes.
      assert.ok(most < 256 * 1024, `${path}: ${most} bytes reserved at most (${seen.join(", ")})`);
      assert.equal(await reserved(), 0, `${path}: released at the end`);
    }
    const rows = await node.rows("SELECT count(v) FROM m");
    assert.equal(rows[0][1], 20_000, "both bodies wrote the same points (the same series, times)");
  } finally {
    await node.close();
  }
});

Deno.test("40 concurrent chunked /ingest bodies are admitted under the default byte bound", async () => {
  const node = await setup(); // max_queued_write_bytes: 256 MiB
  const WRITERS = 40;
  try {
    // No body yields a byte until every request is admitted (its body pulled once); a request
    // refused with 429 never pulls, so the gate opens at its deadline and the test fails.
    let pulled = 0;
    let open!: () => void;
    const allAdmitted = new Promise<void>((resolve) => open = resolve);
    const deadline = setTimeout(open, 10_000);
    const stream = (w: number) => {
      let sent = false;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (!sent && ++pulled === WRITERS) open();
          await allAdmitted;
          if (sent) return controller.close();
          sent = true;
          controller.enqueue(encoder.encode(`c,w=w${w} v=1 ${1e18}\n`));
        },
      }, { highWaterMark: 0 });
    };
    const answers = await Promise.all(
      Array.from({ length: WRITERS }, (_, w) =>
        node.call("/ingest", {
          method: "POST",
          headers: { "content-type": "text/plain" },
          body: stream(w),
        })),
    );
    clearTimeout(deadline);
    const refused = answers.filter((a) => a.status !== 200);
    assert.deepEqual(refused.map((a) => `${a.status} ${a.text}`), []);
    assert.equal(pulled, WRITERS);
    const rows = await node.rows("SELECT count(v) FROM c");
    assert.equal(rows[0][1], WRITERS);
  } finally {
    await node.close();
  }
});
