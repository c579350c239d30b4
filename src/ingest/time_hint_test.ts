import assert from "node:assert/strict";
import { parseLineProtocol } from "./line_protocol.ts";
import { farTimestamps, precisionHint, precisionHintText } from "./time_hint.ts";

const NOW_MS = 1_700_000_000_000; // 2023-11-14

Deno.test("precisionHint: the unit that puts the digits near now, when the given one does not", () => {
  const cases: [number, Parameters<typeof precisionHint>[1], string | undefined][] = [
    [1_700_000_000, "ns", "s"], // seconds sent as nanoseconds (1970-01-01T00:00:01.7)
    [1_700_000_000_000, "ns", "ms"],
    [1_700_000_000_000_000, "ns", "u"],
    [1_700_000_000_000, "s", "ms"], // milliseconds with precision=s (year 55,800)
    [1_700_000_000_000_000_000, "u", "ns"],
    [1_700_000_000, "ms", "s"], // seconds as milliseconds (1970-01-20)
    [1_700_000_000_000_000_000, "ns", undefined], // right
    [1_700_000_000, "s", undefined],
    [1, "ns", undefined], // 1970 whatever the unit: no hint
    [946_684_800_000_000_000, "ns", undefined], // 2000: real old data stays quiet
    [-1_700_000_000, "ns", undefined], // 1916 in seconds: far in every unit
  ];
  for (const [value, precision, hint] of cases) {
    assert.equal(precisionHint(value, precision, NOW_MS), hint, `${value} in ${precision}`);
  }
  assert.equal(precisionHintText("s"), "timestamps look like seconds: pass precision=s");
});

Deno.test("farTimestamps counts the points decades from now; the first suggests the unit", () => {
  const { points } = parseLineProtocol(
    new TextEncoder().encode("m v=1 1700000000\nm v=2 1700000000000000000\nm v=3 1700000001\n"),
    { defaultTime: { ms: NOW_MS, subMs: 0 } },
  );
  assert.deepEqual(farTimestamps(points, "ns", NOW_MS), { count: 2, hint: "s" });
  assert.deepEqual(farTimestamps(points.slice(1, 2), "ns", NOW_MS), { count: 0 });
});

Deno.test("line protocol: an out-of-range time says which precision the digits look like; auto reads by magnitude", () => {
  const now = { ms: NOW_MS, subMs: 0 };
  const lp = new TextEncoder().encode("m v=1 1700000000000\nm v=2 99999999999999999999\n");
  const { errors } = parseLineProtocol(lp, { precision: "s", defaultTime: now });
  assert.equal(
    errors[0].reason,
    "time outside range -9223372036854775806 - 9223372036854775806; " +
      "timestamps look like milliseconds: pass precision=ms",
  );
  assert.equal(errors[1].reason, "time outside range -9223372036854775806 - 9223372036854775806");
  const auto = parseLineProtocol(
    new TextEncoder().encode(
      "m v=1 1700000000\nm v=2 1700000000123\nm v=3 1700000000123456\nm v=4 1700000000123456789\n" +
        "m v=5 00000000001700000000\n",
    ),
    { precision: "auto", defaultTime: now },
  );
  assert.deepEqual(auto.errors, []);
  assert.deepEqual(
    auto.points.map((p) => [p.timeMs, p.timeSubMs]),
    [
      [1_700_000_000_000, 0],
      [1_700_000_000_123, 0],
      [1_700_000_000_123, 456_000],
      [1_700_000_000_123, 456_789],
      [1_700_000_000_000, 0], // leading zeros do not count
    ],
  );
});
