/**
 * Model-based test of the engine: random sequences of writes (overlapping times, overwrites),
 * flushes, compactions, deletes and restarts, checked after every step against a plain map of
 * what must be visible (last write wins; deleted points gone; nothing lost across restarts),
 * over several shard groups.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Clock, FieldType, silentLogger } from "../core/mod.ts";
import { denoFileSystem } from "../runtime/mod.ts";
import { StorageEngine } from "./engine.ts";

const NOW = 1_700_000_000_000;
const clock: Clock = {
  nowMs: () => NOW,
  nowNanos: () => BigInt(NOW) * 1_000_000n,
  monotonicMs: () => 0,
};
const HOSTS = ["a", "b", "c"];
/** Time offsets are in half days, so points spread over several 7-day shard groups. */
const STEP = 43_200_000;
const ALL = [-(2n ** 63n), 2n ** 63n - 1n] as const;

type Op =
  | { kind: "write"; points: [number, number, number][] } // host index, time offset, value
  | { kind: "flush" }
  | { kind: "compact" }
  | { kind: "delete"; host: number | undefined; from: number; to: number; drop: boolean }
  | { kind: "restart" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.array(
      fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 40 }), fc.integer()),
      { minLength: 1, maxLength: 15 },
    ).map((points) => ({ kind: "write" as const, points })),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "flush" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "compact" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("delete" as const),
      host: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
      from: fc.integer({ min: 0, max: 40 }),
      to: fc.integer({ min: 0, max: 40 }),
      drop: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "restart" as const }) },
);

async function visible(engine: StorageEngine): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const shard of engine.shards("db", "autogen", ...ALL)) {
    for (const s of shard.series("m")) {
      const c = await shard.readField(s, "v", ...ALL);
      for (let i = 0; i < (c?.length ?? 0); i++) {
        const key = `${s.tags[0].value}@${(c!.timesMs[i] - NOW) / STEP}`;
        assert.ok(!out.has(key), `duplicate ${key}`);
        out.set(key, c!.values[i] as number);
      }
      // Summaries agree with the decoded column on count and sum.
      let count = 0;
      for (const p of await shard.readFieldSummaries(s, "v", ...ALL)) {
        count += p.kind === "summary" ? p.count : p.column.length;
      }
      assert.equal(count, c?.length ?? 0, `summaries of ${s.key}`);
    }
  }
  return out;
}

Deno.test("engine model: writes, flushes, compactions, deletes and restarts agree with a map", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
      const dir = await Deno.makeTempDir();
      const options = {
        dir,
        fs: denoFileSystem,
        clock,
        logger: silentLogger,
        maintenanceIntervalMs: 0,
        blockValues: 4,
        compactionFanout: 2,
      };
      let engine = await StorageEngine.open(options);
      await engine.createDatabase("db");
      const model = new Map<string, number>();
      try {
        for (const o of ops) {
          if (o.kind === "write") {
            await engine.write(
              "db",
              undefined,
              o.points.map(([h, t, v]) => ({
                measurement: "m",
                tags: [{ key: "host", value: HOSTS[h] }],
                fields: [{ key: "v", type: FieldType.Float, value: v }],
                timeMs: NOW + t * STEP,
                timeSubMs: 0,
              })),
            );
            for (const [h, t, v] of o.points) model.set(`${HOSTS[h]}@${t}`, v);
          } else if (o.kind === "flush") {
            await engine.flush();
          } else if (o.kind === "compact") {
            await engine.compact();
            engine.pruneTombstones();
          } else if (o.kind === "delete") {
            const [from, to] = o.drop
              ? [-1e9, 1e9]
              : [Math.min(o.from, o.to), Math.max(o.from, o.to)];
            await engine.deleteSeries("db", {
              measurements: ["m"],
              seriesFilter: o.host === undefined
                ? undefined
                : (_m, tags) => tags[0].value === HOSTS[o.host!],
              minNs: BigInt(NOW + from * STEP) * 1_000_000n,
              maxNs: BigInt(NOW + to * STEP) * 1_000_000n,
              dropSeries: o.drop,
            });
            for (const key of [...model.keys()]) {
              const [host, t] = key.split("@");
              if (o.host !== undefined && host !== HOSTS[o.host]) continue;
              if (Number(t) >= from && Number(t) <= to) model.delete(key);
            }
          } else {
            await engine.close();
            engine = await StorageEngine.open(options);
          }
          assert.deepEqual(
            new Map([...(await visible(engine))].sort()),
            new Map([...model].sort()),
            `after ${JSON.stringify(o)}`,
          );
        }
      } finally {
        await engine.close();
        await Deno.remove(dir, { recursive: true });
      }
    }),
    { numRuns: 40 },
  );
});
