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

Deno.test("a chunked body of lines that give no points does not grow its reservation past a batch", async () => {
  // Bad lines are decoded, counted and dropped: they hold nothing once their piece is decoded,
  // so they must not pile up as a batch's bytes (which would make every stream short of room
  // and refuse new writes with 429 for memory nobody holds).
  const batchBytes = 512 * 1024;
  const node = await setup({ maxBodyBytes: 64 * 1024 * 1024, ingest: { batchBytes } });
  try {
    const reserved = async () =>
      gauge((await node.call("/metrics")).text, "epochnexus_write_bytes_reserved");
    const badLine = "no fields here at all, not line protocol\n";
    const chunk = encoder.encode(badLine.repeat(Math.floor(60_000 / badLine.length)));
    const CHUNKS = 64; // ~3.8 MiB of bad lines: 7 batches' worth
    let sent = 0;
    const seen: number[] = [];
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent > 0) seen.push(await reserved()); // the previous chunk was decoded
        if (sent++ === CHUNKS) return controller.close();
        controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
    const answer = await node.call("/write?db=epochnexus", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body,
    });
    assert.equal(answer.status, 400, answer.text);
    const most = Math.max(...seen);
    // One read, and at most a batch's worth of bytes before they are let go.
    assert.ok(
      most <= 64 * 1024 + batchBytes + chunk.length,
      `${most} bytes reserved at most for a body that holds no points (${seen.join(", ")})`,
    );
    assert.equal(await reserved(), 0, "released at the end");
  } finally {
    await node.close();
  }
});

/** A body handed over piece by piece: `send` waits until the server pulls, then gives a piece. */
function pacedBody() {
  let give!: (chunk: Uint8Array | null) => void;
  let pulled!: () => void;
  let wasPulled = new Promise<void>((r) => pulled = r);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await new Promise<Uint8Array | null>((r) => {
        give = r;
        pulled();
      });
      if (chunk === null) controller.close();
      else controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  const send = async (chunk: Uint8Array | null) => {
    await wasPulled;
    wasPulled = new Promise<void>((r) => pulled = r);
    give(chunk);
  };
  return { body, send, pulledAgain: () => wasPulled };
}

Deno.test("a line or record longer than one read counts in the reservation while it is held", async () => {
  // Batches of 128 KiB flush several times while one 896 KiB line is held: its bytes were
  // counted as the body's until a flush forgot them (64 KiB reserved with 896 KiB held).
  const node = await setup({
    maxBodyBytes: 64 * 1024 * 1024,
    ingest: { batchBytes: 128 * 1024, maxLineBytes: 2 * 1024 * 1024 },
  });
  const cases = [
    {
      path: "/write?db=epochnexus",
      type: "text/plain",
      head: 'long,f=lp s="',
      tail: '" 1\n',
      short: (i: number) => `short,f=lp v=${i} ${i + 1}\n`,
    },
    {
      path: "/ingest",
      type: "application/x-ndjson",
      head: '{"measurement":"long","tags":{"f":"nd"},"fields":{"s":"',
      tail: '"},"timestamp":1}\n',
      short: (i: number) =>
        `{"measurement":"short","tags":{"f":"nd"},"value":${i},"timestamp":${i + 1}}\n`,
    },
    {
      path: "/ingest?tags=f&types=s:string",
      type: "text/csv",
      head: 'measurement,f,s,time\nlong,csv,"',
      tail: '",1\n',
      short: () => "",
    },
  ];
  try {
    const reserved = async () =>
      gauge((await node.call("/metrics")).text, "epochnexus_write_bytes_reserved");
    const piece = encoder.encode("x".repeat(64 * 1024));
    for (const c of cases) {
      const { body, send, pulledAgain } = pacedBody();
      const answer = node.call(c.path, {
        method: "POST",
        headers: { "content-type": c.type },
        body,
      });
      let short = "";
      for (let i = 0; i < 50; i++) short += c.short(i);
      await send(encoder.encode(short + c.head));
      for (let i = 0; i < 14; i++) await send(piece);
      await pulledAgain();
      const held = await reserved();
      await send(encoder.encode(c.tail));
      await send(null);
      const done = await answer;
      assert.ok(done.status < 300, `${c.type}: ${done.status} ${done.text}`);
      assert.ok(held >= 14 * piece.length, `${c.type}: ${held} bytes reserved with 917504 held`);
      assert.ok(held < 14 * piece.length + 256 * 1024, `${c.type}: ${held} bytes reserved`);
      assert.equal(await reserved(), 0, `${c.type}: released at the end`);
    }
    const stored = await node.call(
      `/query?db=epochnexus&q=${encodeURIComponent("SELECT count(s) FROM long GROUP BY f")}`,
    );
    assert.deepEqual(
      stored.json.results[0].series.map((s: { tags: { f: string }; values: unknown[][] }) =>
        `${s.tags.f}=${s.values[0][1]}`
      ),
      ["csv=1", "lp=1", "nd=1"],
    );
  } finally {
    await node.close();
  }
});

Deno.test("a CSV record is bounded by max_line_bytes: an unclosed quote is refused, not held", async () => {
  // An unclosed quoted field was held whole: 300 MB of it grew the server by 315 MiB, with
  // nothing reserved (the bound is max_stream_bytes, 64 GiB).
  const node = await setup({ ingest: { maxLineBytes: 256 * 1024 } });
  try {
    const { body, send } = pacedBody();
    const answer = node.call("/ingest", {
      method: "POST",
      headers: { "content-type": "text/csv" },
      body,
    });
    await send(encoder.encode('measurement,s\nm,"'));
    const piece = encoder.encode("x".repeat(64 * 1024));
    let sent = 0;
    const sending = (async () => {
      // At most 64 pieces (4 MiB), then the body ends: the answer must come long before.
      for (; sent < 64; sent++) await send(piece);
      await send(null);
    })();
    const done = await answer;
    assert.equal(done.status, 413, done.text);
    assert.equal(
      done.json.error.message,
      "CSV: a record longer than 262144 bytes (the limit) starts at line 2 (byte offset 14 of " +
        "the body)",
    );
    assert.ok(sent <= 6, `${sent} pieces of 64 KiB read before the refusal`);
    await Promise.race([sending, new Promise((r) => setTimeout(r, 100))]);
  } finally {
    await node.close();
  }
});
