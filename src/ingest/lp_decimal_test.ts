import assert from "node:assert/strict";
import fc from "fast-check";
import { decimalToDouble } from "./lp_decimal.ts";

/** Splits a digit string (at most 19 digits) as the parser does: leading part, last nine. */
function convert(digits: string, fraction: number): number {
  const low = Number(digits.slice(-9));
  const high = digits.length > 9 ? Number(digits.slice(0, -9)) : 0;
  return decimalToDouble(high, low, fraction);
}

/** What Number() gives for digits / 10^fraction. */
function reference(digits: string, fraction: number): number {
  if (fraction === 0) return Number(digits);
  const padded = digits.padStart(fraction + 1, "0");
  return Number(`${padded.slice(0, padded.length - fraction)}.${padded.slice(-fraction)}`);
}

Deno.test("decimalToDouble: the double Number() gives, or NaN", () => {
  const cases: [string, number, number][] = [
    ["5773456132454768", 14, 57.73456132454768],
    ["12659411806613207", 15, 12.659411806613207],
    ["3223201438318938", 15, 3.223201438318938],
    ["9007199254740993", 0, NaN], // 2^53 + 1: a tie, declined
    ["9007199254740995", 0, NaN], // 2^53 + 3: also a tie (doubles are 2 apart there)
    ["90071992547409951", 1, 9007199254740996], // just above that tie
    ["1", 22, 1e-22],
    ["9999999999999999999", 0, 1e19],
    ["17976931348623157", 1, 1797693134862315.7],
  ];
  for (const [digits, fraction, expected] of cases) {
    assert.ok(Object.is(convert(digits, fraction), expected), `${digits} / 1e${fraction}`);
  }
});

Deno.test("decimalToDouble: any double printed shortest converts back to itself", () => {
  fc.assert(
    fc.property(fc.double({ min: 1e-6, max: 1e15, noNaN: true }), (x) => {
      const text = String(x);
      if (text.includes("e")) return;
      const [int, frac = ""] = text.split(".");
      const digits = (int + frac).replace(/^0+(?=\d)/, "");
      if (digits.length > 19 || frac.length > 22) return;
      const y = convert(digits, frac.length);
      // Declining is allowed (the caller falls back), a wrong answer is not.
      if (y === y) assert.equal(y, x, text);
    }),
    { numRuns: 20_000 },
  );
});

Deno.test("decimalToDouble: random 16 to 19 digits at every scale agree with Number()", () => {
  let declined = 0;
  fc.assert(
    fc.property(
      fc.stringMatching(/^[1-9][0-9]{15,18}$/),
      fc.integer({ min: 0, max: 22 }),
      (digits, fraction) => {
        const y = convert(digits, fraction);
        // Above 2^53 many decimals are exact ties between doubles (and declined); below, a
        // decline needs a value within 2^-90 of a midpoint.
        if (y !== y) declined += digits.length - fraction <= 15 ? 1 : 0;
        else assert.equal(y, reference(digits, fraction), `${digits} / 1e${fraction}`);
      },
    ),
    { numRuns: 20_000 },
  );
  assert.ok(declined < 5, `declined ${declined} of 20000 below 2^53`);
});

Deno.test("decimalToDouble: decimals on or next to a midpoint between doubles", () => {
  // 2^53 + 2k + 1 are exact ties between two doubles; a tenth more or less is not. Next to
  // 2^53 itself (a power of two) the function may decline; elsewhere it must answer.
  for (let k = 0n; k < 200n; k++) {
    const tie = 2n ** 53n + 2n * k + 1n;
    assert.ok(Number.isNaN(convert(String(tie), 0)), String(tie));
    for (const near of [tie * 10n - 1n, tie * 10n + 1n]) {
      const y = convert(String(near), 1);
      if (k === 0n && y !== y) continue;
      assert.equal(y, reference(String(near), 1), String(near));
    }
  }
});
