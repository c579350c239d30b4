/**
 * Many streamed writes in flight (`/write`, and `/ingest`'s streamed line protocol) share a bounded number of decoded points: each commits smaller
 * batches (`WriteAdmission.batchShare`), so 64 writers do not each hold a whole body of points
 * (#15 item 4). The write contract is unchanged: every line is stored, a bad line is reported by
 * its line number in its own request while that request's valid lines are kept, and a request is
 * answered only after all its batches are written.
 */
import assert from "node:assert/strict";
import { type Answer, setup } from "./_app.ts";
import { IN_FLIGHT_BATCHES } from "../../src/ingest/mod.ts";

const WRITERS = 16;
const LINES = 3000;
const BATCH_POINTS = 2000;
const CHUNK_BYTES = 4096;
const BAD_LINE = 2500;

/** Line protocol of writer `w`: LINES points of `m,w=<w>`, line BAD_LINE of writer 0 broken. */
function body(w: number): Uint8Array {
  let text = "";
  for (let i = 1; i <= LINES; i++) {
    text += w === 0 && i === BAD_LINE ? `m,w=${w} v= ${i}\n` : `m,w=${w} v=${i}i ${i}\n`;
  }
  return new TextEncoder().encode(text);
}

/** An endpoint under test and how it answers writer 0 (one bad line) and the others. */
interface Endpoint {
  path: string;
  headers: Record<string, string>;
  checkBadLine(answer: Answer): void;
  okStatus: number;
}

const ENDPOINTS: Record<string, Endpoint> = {
  "/write": {
    path: "/write?db=epochnexus&precision=s",
    headers: {},
    checkBadLine(a) {
      assert.equal(a.status, 400, a.text);
      assert.match(a.text, new RegExp(`line ${BAD_LINE}, column`));
      assert.match(a.text, /dropped=0/);
    },
    okStatus: 204,
  },
  "/ingest (text/plain)": {
    path: "/ingest?precision=s",
    headers: { "content-type": "text/plain" },
    checkBadLine(a) {
      assert.equal(a.status, 400, a.text);
      assert.equal(a.json.error.accepted, LINES - 1);
      assert.deepEqual(a.json.error.errors.map((e: { line: number }) => e.line), [BAD_LINE]);
    },
    okStatus: 200,
  },
};

for (const [name, endpoint] of Object.entries(ENDPOINTS)) {
  Deno.test(`concurrent ${name} requests each commit a share of the batch; every line is kept`, () =>
    concurrentWriters(endpoint));
}

async function concurrentWriters(endpoint: Endpoint): Promise<void> {
  // The default in-flight byte bound (256 MiB): a body of unknown length reserves what it holds.
  const node = await setup({ ingest: { batchPoints: BATCH_POINTS } });
  try {
    // The first batch each writer's request hands to the engine, by writer.
    const firstBatch = new Map<string, number>();
    const write = node.engine.write.bind(node.engine);
    node.engine.write = (db, rp, points) => {
      const w = points[0]?.tags.find((t) => t.key === "w")?.value;
      if (w !== undefined && !firstBatch.has(w)) firstBatch.set(w, points.length);
      return write(db, rp, points);
    };
    // No body yields a byte until every request has been admitted (its body pulled once), so
    // every first batch is cut while all WRITERS are in flight; 10 s at most.
    let pulled = 0;
    let open!: () => void;
    const allAdmitted = new Promise<void>((resolve) => open = resolve);
    const deadline = setTimeout(open, 10_000);
    const stream = (bytes: Uint8Array) => {
      let at = 0;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (at === 0 && ++pulled === WRITERS) open();
          await allAdmitted;
          if (at >= bytes.length) return controller.close();
          controller.enqueue(bytes.slice(at, at += CHUNK_BYTES));
        },
      }, { highWaterMark: 0 });
    };
    const answers = await Promise.all(
      Array.from(
        { length: WRITERS },
        (_, w) =>
          node.call(endpoint.path, {
            method: "POST",
            headers: endpoint.headers,
            body: stream(body(w)),
          }),
      ),
    );
    clearTimeout(deadline);
    assert.equal(pulled, WRITERS);

    endpoint.checkBadLine(answers[0]);
    for (const a of answers.slice(1)) assert.equal(a.status, endpoint.okStatus, a.text);
    const rows = await node.rows("SELECT count(v) FROM m");
    assert.equal(rows[0][1], WRITERS * LINES - 1);

    // A share of IN_FLIGHT_BATCHES batches among WRITERS, plus the lines of one chunk decoded
    // past it (a chunk is at most CHUNK_BYTES / 12 lines of this body).
    const share = IN_FLIGHT_BATCHES * BATCH_POINTS / WRITERS;
    assert.ok(share < BATCH_POINTS, "the test needs a share smaller than the batch");
    assert.equal(firstBatch.size, WRITERS);
    for (const [w, size] of firstBatch) {
      assert.ok(
        size <= share + CHUNK_BYTES / 12,
        `writer ${w}: first batch of ${size} points, more than its share of ${share}`,
      );
    }
  } finally {
    await node.close();
  }
}
