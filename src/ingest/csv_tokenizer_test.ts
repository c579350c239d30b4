import assert from "node:assert/strict";
import fc from "fast-check";
import { type CsvRecord, CsvSyntaxError, CsvTokenizer } from "./csv_tokenizer.ts";

const enc = new TextEncoder();

/** Tokenizes `body` cut at `cuts` (byte offsets), the records of every push and the finish. */
function tokenize(body: string | Uint8Array, cuts: number[] = []): CsvRecord[] {
  const bytes = typeof body === "string" ? enc.encode(body) : body;
  const bounds = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  const t = new CsvTokenizer();
  const out: CsvRecord[] = [];
  let at = 0;
  for (const cut of [...bounds, bytes.length]) {
    out.push(...t.push(bytes.subarray(at, cut)));
    at = cut;
  }
  out.push(...t.finish());
  if (t.error) throw t.error;
  return out;
}

const cells = (body: string, cuts?: number[]) => tokenize(body, cuts).map((r) => r.cells);

/** Every way of cutting `body` in two, and in single bytes. */
function everyCut(body: string): number[][] {
  const n = enc.encode(body).length;
  const all = [[], Array.from({ length: n }, (_, i) => i)];
  for (let i = 1; i < n; i++) all.push([i]);
  return all;
}

Deno.test("csv tokenizer: bare and quoted fields, doubled quotes, line ends inside quotes", () => {
  const body = 'a,b,c\n"x,1","say ""hi""","two\r\nlines"\n,,\n"",plain,"\n"\n';
  const expected = [
    ["a", "b", "c"],
    ["x,1", 'say "hi"', "two\r\nlines"],
    ["", "", ""],
    ["", "plain", "\n"],
  ];
  for (const cuts of everyCut(body)) assert.deepEqual(cells(body, cuts), expected, `cuts ${cuts}`);
});

Deno.test("csv tokenizer: CRLF, LF and CR mixed; empty lines skipped; no final line end", () => {
  const body = "a,b\r\n\r\n1,2\n\n\n3,4\r\r5\r\n6,";
  for (const cuts of everyCut(body)) {
    const records = tokenize(body, cuts);
    assert.deepEqual(records.map((r) => r.cells), [["a", "b"], ["1", "2"], ["3", "4"], ["5"], [
      "6",
      "",
    ]], `cuts ${cuts}`);
    // Lines: a CR LF is one line end, a CR alone is one.
    assert.deepEqual(records.map((r) => r.line), [1, 3, 6, 8, 9], `cuts ${cuts}`);
    // Each record's bytes, from its first to its line end.
    assert.deepEqual(
      records.map((r) => [r.start, r.end]),
      [[0, 3], [7, 10], [13, 16], [18, 19], [21, 23]],
      `cuts ${cuts}`,
    );
  }
  assert.deepEqual(tokenize(""), []);
  assert.deepEqual(tokenize("\n\r\n\r"), []);
});

Deno.test("csv tokenizer: a leading BOM is skipped but counted in offsets; elsewhere it is text", () => {
  const body = "\ufeffa,b\n\ufeff1,2\n";
  for (const cuts of everyCut(body)) {
    const records = tokenize(body, cuts);
    assert.deepEqual(records.map((r) => r.cells), [["a", "b"], ["\ufeff1", "2"]], `cuts ${cuts}`);
    assert.deepEqual(records.map((r) => [r.start, r.end]), [[3, 6], [7, 13]], `cuts ${cuts}`);
  }
  // A body shorter than a BOM, or starting like one but not one.
  assert.deepEqual(cells("x"), [["x"]]);
  assert.deepEqual(tokenize(new Uint8Array([0xef, 0xbb, 0x41, 0x0a]))[0].cells, ["\ufffdA"]);
  assert.deepEqual(tokenize(new Uint8Array([0xef, 0xbb, 0xbf])), []);
});

Deno.test("csv tokenizer: ragged rows are records like any other", () => {
  assert.deepEqual(cells("a,b,c\n1\n1,2,3,4\n\n1,2\n"), [["a", "b", "c"], ["1"], [
    "1",
    "2",
    "3",
    "4",
  ], ["1", "2"]]);
});

Deno.test("csv tokenizer: UTF-8 across chunk boundaries; bad bytes become U+FFFD", () => {
  const body = 'é,"日本\n語",😀x\n';
  for (const cuts of everyCut(body)) {
    assert.deepEqual(cells(body, cuts), [["é", "日本\n語", "😀x"]], `cuts ${cuts}`);
  }
  const long = "ü".repeat(40);
  assert.deepEqual(cells(`${long},${long}x`), [[long, `${long}x`]]);
  assert.deepEqual(tokenize(new Uint8Array([0x61, 0xff, 0x2c, 0x62]))[0].cells, ["a\ufffd", "b"]);
});

/** The syntax error `body` throws, however it is cut. */
function syntaxError(body: string): CsvSyntaxError {
  let first: CsvSyntaxError | undefined;
  for (const cuts of everyCut(body)) {
    try {
      tokenize(body, cuts);
    } catch (error) {
      assert.ok(error instanceof CsvSyntaxError, String(error));
      if (first) assert.equal(error.message, first.message, `cuts ${cuts}`);
      first ??= error;
      continue;
    }
    assert.fail(`no error for ${JSON.stringify(body)} cut at ${cuts}`);
  }
  return first!;
}

Deno.test("csv tokenizer: broken syntax is an error naming the line and column", () => {
  const unclosed = syntaxError('a,b\r\n1,"2,\n3\n');
  assert.equal(unclosed.reason, "Quote Not Closed");
  assert.deepEqual([unclosed.line, unclosed.column], [2, 3]); // where the quote opened
  assert.match(unclosed.message, /^Quote Not Closed at line 2, column 3: /);

  const inBare = syntaxError('a,b\n"x\ny",1\nab"c,2\n');
  assert.equal(inBare.reason, "Invalid Opening Quote");
  assert.deepEqual([inBare.line, inBare.column], [4, 3]);

  const afterClose = syntaxError('a\r\n"x"y\n');
  assert.equal(afterClose.reason, "Invalid Closing Quote");
  assert.deepEqual([afterClose.line, afterClose.column], [2, 4]);

  const spaceAfterClose = syntaxError('"a" ,b\n');
  assert.deepEqual([spaceAfterClose.line, spaceAfterClose.column], [1, 4]);
});

/** RFC 4180 serialization: quote a field when it holds a comma, a quote, CR or LF. */
function serialize(records: string[][], eol: string): string {
  return records.map((r) =>
    r.map((c) =>
      /[",\r\n]/.test(c) || (r.length === 1 && c === "") ? `"${c.replace(/"/g, '""')}"` : c
    )
      .join(",") + eol
  ).join("");
}

Deno.test("csv tokenizer: tokenize(serialize(records)) == records, however the bytes are cut", () => {
  const cell = fc.oneof(
    fc.string({ unit: fc.constantFrom("a", "1", ",", '"', "\r", "\n", " ", "é", "😀") }),
    fc.string({ unit: "grapheme" }),
  );
  fc.assert(
    fc.property(
      fc.array(fc.array(cell, { minLength: 1, maxLength: 5 }), { maxLength: 8 }),
      fc.constantFrom("\n", "\r\n", "\r"),
      fc.array(fc.nat(400), { maxLength: 6 }),
      (records, eol, cuts) => {
        const body = serialize(records, eol);
        assert.deepEqual(cells(body, cuts), records);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("csv tokenizer: the records before a syntax error come first, then the error", () => {
  const t = new CsvTokenizer();
  const records = t.push(enc.encode('a,b\n1,2\n3,x"y\n5,6\n'));
  assert.deepEqual(records.map((r) => r.cells), [["a", "b"], ["1", "2"]]);
  assert.ok(t.error instanceof CsvSyntaxError);
  assert.equal(t.error.line, 3);
  assert.throws(() => t.push(enc.encode("7,8\n")), (e) => e === t.error);
  assert.throws(() => t.finish(), (e) => e === t.error);
});
