import assert from "node:assert/strict";
import type { Point } from "../core/mod.ts";
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
