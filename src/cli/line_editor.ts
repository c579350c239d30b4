/**
 * A line editor for a terminal in raw mode, as a pure state machine: {@linkcode LineEditor.feed}
 * takes what the terminal sent (keys, escape sequences, pasted text) and returns what to write
 * back (the redrawn line, the cursor moved) and the lines completed. No IO: the shell runs it
 * over the terminal, tests over strings.
 *
 * Keys: printable text (pasted text too, several lines at once); Enter; Backspace, Delete;
 * Left, Right, Home, End (also Ctrl-A, Ctrl-E); Up and Down walk the history (the line being
 * typed is kept); Ctrl-U clears to the start, Ctrl-K to the end, Ctrl-W deletes a word; Ctrl-C
 * drops the line; Ctrl-D on an empty line ends the input, elsewhere deletes.
 * @module
 */
import { displayWidth } from "./result_table.ts";

/** What one {@linkcode LineEditor.feed} produced. */
export interface EditorOutput {
  /** Bytes for the terminal: echo, redraws, cursor moves. */
  write: string;
  /**
   * The line completed by Enter, if one was: the input after it waits in the editor (call
   * `feed("")` after handling the line, until no line comes), so that what the line prints
   * comes before the echo of the next.
   */
  line?: string;
  /** Ctrl-D on an empty line: the input has ended. */
  eof: boolean;
}

/** The editing state of one line, with a history to walk. */
export class LineEditor {
  #prompt: string;
  #chars: string[] = [];
  #cursor = 0;
  readonly #history: string[];
  /** Where Up/Down is in the history: `history.length` is the line being typed. */
  #at: number;
  /** The line being typed, kept while walking the history. */
  #draft: string[] = [];
  #pending = "";

  /** @param history oldest first; entered lines are appended to it */
  constructor(prompt: string, history: string[] = []) {
    this.#prompt = prompt;
    this.#history = history;
    this.#at = history.length;
  }

  /** The prompt, to write before the first key of each line. */
  get prompt(): string {
    return this.#prompt;
  }

  /** The text of the line being edited. */
  get text(): string {
    return this.#chars.join("");
  }

  /** Changes the prompt (it shows from the next line). */
  setPrompt(prompt: string): void {
    this.#prompt = prompt;
  }

  /** Handles input from the terminal, up to the end of the first line completed. */
  feed(input: string): EditorOutput {
    const out: EditorOutput = { write: "", eof: false };
    let s = this.#pending + input;
    this.#pending = "";
    while (s.length > 0 && !out.eof) {
      if (out.line !== undefined) {
        this.#pending = s;
        break;
      }
      if (s[0] === "\x1b") {
        // deno-lint-ignore no-control-regex
        const m = /^\x1b(\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(s);
        if (!m) {
          // An escape sequence cut between two reads: wait for the rest.
          // deno-lint-ignore no-control-regex
          if (/^\x1b(\[[0-9;]*|O)?$/.test(s)) {
            this.#pending = s;
            break;
          }
          s = s.slice(1); // a lone Escape: ignored
          continue;
        }
        out.write += this.#escape(m[1]);
        s = s.slice(m[0].length);
        continue;
      }
      const ch = String.fromCodePoint(s.codePointAt(0)!);
      s = s.slice(ch.length);
      // CRLF (a pasted Windows line end) is one Enter.
      if (ch === "\r" && s[0] === "\n") s = s.slice(1);
      out.write += this.#key(ch, out);
    }
    return out;
  }

  #escape(seq: string): string {
    switch (seq) {
      case "[A":
      case "OA":
        return this.#walk(-1);
      case "[B":
      case "OB":
        return this.#walk(1);
      case "[C":
      case "OC":
        return this.#move(this.#cursor + 1);
      case "[D":
      case "OD":
        return this.#move(this.#cursor - 1);
      case "[H":
      case "OH":
      case "[1~":
        return this.#move(0);
      case "[F":
      case "OF":
      case "[4~":
        return this.#move(this.#chars.length);
      case "[3~":
        if (this.#cursor >= this.#chars.length) return "";
        this.#chars.splice(this.#cursor, 1);
        return this.#redraw();
      default:
        return "";
    }
  }

  #key(ch: string, out: EditorOutput): string {
    switch (ch) {
      case "\r":
      case "\n": {
        const line = this.text;
        out.line = line;
        if (line.trim() !== "" && this.#history.at(-1) !== line) this.#history.push(line);
        this.#chars = [];
        this.#cursor = 0;
        this.#draft = [];
        this.#at = this.#history.length;
        return "\r\n";
      }
      case "\x7f":
      case "\b":
        if (this.#cursor === 0) return "";
        this.#chars.splice(--this.#cursor, 1);
        return this.#redraw();
      case "\x01":
        return this.#move(0);
      case "\x05":
        return this.#move(this.#chars.length);
      case "\x02":
        return this.#move(this.#cursor - 1);
      case "\x06":
        return this.#move(this.#cursor + 1);
      case "\x10":
        return this.#walk(-1);
      case "\x0e":
        return this.#walk(1);
      case "\x15":
        this.#chars.splice(0, this.#cursor);
        this.#cursor = 0;
        return this.#redraw();
      case "\x0b":
        this.#chars.length = this.#cursor;
        return this.#redraw();
      case "\x17": {
        let start = this.#cursor;
        while (start > 0 && this.#chars[start - 1] === " ") start--;
        while (start > 0 && this.#chars[start - 1] !== " ") start--;
        this.#chars.splice(start, this.#cursor - start);
        this.#cursor = start;
        return this.#redraw();
      }
      case "\x03":
        this.#chars = [];
        this.#cursor = 0;
        this.#draft = [];
        this.#at = this.#history.length;
        return `^C\r\n${this.#prompt}`;
      case "\x04":
        if (this.#chars.length === 0) {
          out.eof = true;
          return "\r\n";
        }
        if (this.#cursor >= this.#chars.length) return "";
        this.#chars.splice(this.#cursor, 1);
        return this.#redraw();
      default:
        if (ch < " ") return ""; // other control keys: ignored
        this.#chars.splice(this.#cursor++, 0, ch);
        return this.#cursor === this.#chars.length ? ch : this.#redraw();
    }
  }

  #walk(step: number): string {
    const to = this.#at + step;
    if (to < 0 || to > this.#history.length) return "";
    if (this.#at === this.#history.length) this.#draft = this.#chars;
    this.#at = to;
    this.#chars = to === this.#history.length ? this.#draft : [...this.#history[to]];
    this.#cursor = this.#chars.length;
    return this.#redraw();
  }

  #move(to: number): string {
    to = Math.max(0, Math.min(this.#chars.length, to));
    if (to === this.#cursor) return "";
    this.#cursor = to;
    return this.#redraw();
  }

  /** The line again from its start, cleared to the end, the cursor put back. */
  #redraw(): string {
    const after = displayWidth(this.#chars.slice(this.#cursor).join(""));
    return `\r${this.#prompt}${this.text}\x1b[K${after > 0 ? `\x1b[${after}D` : ""}`;
  }
}
