/**
 * The native JSON body (src/ingest/json_points.ts): `decodeJsonPoints` throws only a
 * `ParseError` (not JSON, with its line and column) or a `ValidationError` (JSON that is not a
 * record or an array of them); every point it returns keeps core's contract and every record it
 * refuses is named by its index with a reason.
 * @module
 */
import { ParseError, ValidationError } from "../../../src/core/mod.ts";
import { decodeJsonPoints } from "../../../src/ingest/mod.ts";
import { structuredAndMutated } from "../_mutate.ts";
import { checkPoints } from "../_points.ts";
import { bytesOfAll, JSON_SAMPLES, JSON_TOKENS } from "../_samples.ts";
import { count, demand, expectOnly, type FuzzTarget } from "../_target.ts";
import { jsonBodies } from "./_json_gen.ts";

const enc = new TextEncoder();
const NOW = { ms: 1_700_000_000_000, subMs: 0 };

/** Inputs of the JSON fuzzer (also the HTTP fuzzer's JSON bodies). */
export const jsonInputs = structuredAndMutated(
  jsonBodies.map((t) => enc.encode(t)),
  bytesOfAll(JSON_SAMPLES),
  JSON_TOKENS,
);

export const jsonTarget: FuzzTarget = {
  name: "json",
  about: "decodeJsonPoints throws only ParseError/ValidationError; points valid, refusals named",
  inputs: jsonInputs,
  open() {
    const outcomes: Record<string, number> = {};
    return Promise.resolve({
      outcomes,
      check(input: Uint8Array) {
        // As the /ingest handler reads a JSON body.
        const text = new TextDecoder().decode(input);
        const r = expectOnly(() => decodeJsonPoints(text, { defaultTime: NOW }), [
          ParseError,
          ValidationError,
        ]);
        if (r === undefined) return void count(outcomes, "refused");
        count(outcomes, r.points.length > 0 ? "points" : "no points");
        checkPoints(r.points, "json");
        for (const e of r.errors) {
          demand(
            Number.isInteger(e.record) && e.record >= 0 && typeof e.reason === "string" &&
              e.reason !== "",
            () => `a malformed record error ${JSON.stringify(e)}`,
          );
        }
      },
      close: () => Promise.resolve(),
    });
  },
};
