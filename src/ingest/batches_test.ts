import assert from "node:assert/strict";
import type { Point } from "../core/mod.ts";
import { WriteAdmission } from "./admission.ts";
import { commitBatches, type DecodedBatch } from "./batches.ts";

const point: Point = { measurement: "m", tags: [], fields: [], timeMs: 0, timeSubMs: 0 };

Deno.test("commitBatches: a write failing while the body's next read is awaited is the call's error, not the process's", async () => {
  let afterFailure = Promise.resolve();
  async function* body(): AsyncGenerator<DecodedBatch> {
    yield { points: [point, point], errors: [], bytes: 10 };
    await afterFailure; // the next network read, still pending when the write fails
    yield { points: [point], errors: [], bytes: 10 };
  }
  const failed = Promise.withResolvers<void>();
  afterFailure = failed.promise.then(() => new Promise((r) => setTimeout(r, 50)));
  await assert.rejects(
    () =>
      commitBatches(body(), () => {
        failed.resolve();
        return Promise.reject(new Error("retention policy not found"));
      }, { batchPoints: 1 }),
    /retention policy not found/,
  );
});

Deno.test("commitBatches: the reservation follows the batches held, and a stream short of room writes what it holds", async () => {
  const admission = new WriteAdmission({ maxQueuedBytes: 1_000 });
  const other = admission.admit(600); // another write holds most of the bound
  const reservation = admission.admitStream(100);
  const seen: number[] = [];
  const batches: number[] = [];
  async function* body(): AsyncGenerator<DecodedBatch> {
    for (let i = 0; i < 6; i++) {
      seen.push(admission.reservedBytes);
      yield { points: [point, point], errors: [], bytes: 100 };
    }
  }
  const summary = await commitBatches(body(), (points) => {
    batches.push(points.length);
    return Promise.resolve({ accepted: points.length, rejected: [] });
  }, { batchPoints: 1_000, batchBytes: 1_000_000, memory: reservation });
  assert.equal(summary.accepted, 12);
  // Under the bound the batch grows (100, 200, 300 bytes held besides the read); at 600 + 100
  // + 300 the bound is reached and what is held is written instead of grown.
  assert.deepEqual(seen.slice(0, 4), [700, 800, 900, 1_000]);
  assert.ok(batches.length > 1, `written in ${batches.length} batches: ${batches}`);
  assert.ok(Math.max(...seen) <= 1_000 + 100, `held at most one piece past the bound: ${seen}`);
  assert.equal(admission.reservedBytes, 700, "the batches' bytes go back once written");
  reservation.release();
  other();
  assert.equal(admission.reservedBytes, 0);
  assert.equal(admission.active, 0);
});

Deno.test("admission: streams are admitted for what they hold now, and new ones refused while the bound is held", () => {
  const admission = new WriteAdmission({ maxQueuedBytes: 1_000 });
  const streams = Array.from({ length: 10 }, () => admission.admitStream(64));
  assert.equal(
    admission.reservedBytes,
    640,
    "ten streams of one read each fit where one 17 MiB did not",
  );
  streams[0].hold(400); // its batches fill
  assert.equal(admission.reservedBytes, 1_040);
  assert.equal(streams[0].short, true);
  assert.throws(() => admission.admitStream(64), /too many bytes in flight/);
  streams[0].hold(0); // written
  assert.equal(streams[1].short, false);
  const more = admission.admitStream(64);
  for (const s of [...streams, more]) s.release();
  streams[0].release(); // idempotent
  assert.equal(admission.reservedBytes, 0);
  assert.equal(admission.active, 0);
});
