import assert from "node:assert/strict";
import { LineEditor } from "./line_editor.ts";

/** Feeds keys and collects the completed lines (as the shell does: feed("") after each). */
function type(editor: LineEditor, keys: string): { lines: string[]; eof: boolean } {
  const lines: string[] = [];
  let out = editor.feed(keys);
  while (true) {
    if (out.eof) return { lines, eof: true };
    if (out.line === undefined) return { lines, eof: false };
    lines.push(out.line);
    out = editor.feed("");
  }
}

const LEFT = "\x1b[D", RIGHT = "\x1b[C", UP = "\x1b[A", DOWN = "\x1b[B";

Deno.test("line editor: typing, Backspace, moving the cursor and inserting, Home/End, Delete", () => {
  const e = new LineEditor("> ");
  assert.deepEqual(type(e, "SELEC\x7fCT\r").lines, ["SELECT"]);
  assert.deepEqual(type(e, `SHOW${LEFT}${LEFT}${LEFT}${LEFT}x${RIGHT}\x1b[3~\x05!\r`).lines, [
    "xSOW!",
  ]);
  assert.deepEqual(type(e, `abc\x01>\x1b[F<\r`).lines, [">abc<"]);
  // A redraw puts the cursor back where it was: after "ab|c", one cell to the left.
  const e2 = new LineEditor("> ");
  e2.feed("ac");
  const w = e2.feed(`${LEFT}b`).write;
  assert.ok(w.endsWith("\r> abc\x1b[K\x1b[1D"), JSON.stringify(w));
});

Deno.test("line editor: Up and Down walk the history and keep the line being typed", () => {
  const history: string[] = [];
  const e = new LineEditor("> ", history);
  type(e, "one\rtwo\r\r");
  assert.deepEqual(history, ["one", "two"]); // blank lines are not kept
  assert.deepEqual(type(e, `draft${UP}${UP}${UP}\r`).lines, ["one"]);
  assert.deepEqual(type(e, `draft${UP}${DOWN}\r`).lines, ["draft"]);
  assert.deepEqual(history, ["one", "two", "one", "draft"]);
  type(e, `${UP}\r`); // the same line twice in a row is kept once
  assert.deepEqual(history, ["one", "two", "one", "draft"]);
});

Deno.test("line editor: Ctrl-C drops the line, Ctrl-U/K/W cut, Ctrl-D ends only an empty line", () => {
  const e = new LineEditor("> ");
  assert.deepEqual(type(e, "junk\x03ok\r").lines, ["ok"]);
  assert.deepEqual(type(e, `abc def${LEFT}${LEFT}${LEFT}\x15\r`).lines, ["def"]);
  assert.deepEqual(type(e, `abc def${LEFT}${LEFT}${LEFT}\x0b\r`).lines, ["abc "]);
  assert.deepEqual(type(e, "SELECT * FROM\x17cpu\r").lines, ["SELECT * cpu"]);
  assert.deepEqual(type(e, `ab${LEFT}\x04\r`).lines, ["a"]);
  assert.deepEqual(type(e, "\x04"), { lines: [], eof: true });
});

Deno.test("line editor: pasted lines come one at a time; CRLF is one Enter; split escapes wait", () => {
  const e = new LineEditor("> ");
  assert.deepEqual(type(e, "use db\r\nSHOW MEASUREMENTS\rSELECT").lines, [
    "use db",
    "SHOW MEASUREMENTS",
  ]);
  assert.equal(e.text, "SELECT");
  e.feed("\x1b");
  e.feed("[");
  e.feed("D"); // Left, in three reads
  assert.deepEqual(type(e, "!\r").lines, ["SELEC!T"]);
  assert.deepEqual(type(e, "日本\x7f語\r").lines, ["日語"]);
});
