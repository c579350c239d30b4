/**
 * A streaming RFC 4180 tokenizer: byte chunks in, records out, each with the line it starts on
 * and its byte range in the body. It replaces csv-parse, which builds a `CsvError` (contexts
 * cloned through JSON) for every record whose width differs from the first one's, even when told
 * to allow it: ~100 µs per short ragged row, so a body of many short rows took seconds.
 *
 * - Fields are separated by `,`; records end at `\r\n`, `\n` or `\r` (mixed freely).
 * - A quoted field (`"..."`) may hold `,`, `"` (doubled: `""`) and line ends.
 * - A UTF-8 byte-order mark at the start of the body is skipped (and counted in byte offsets).
 * - Empty lines are skipped; records may be of any width (the caller judges them).
 * - Bytes are decoded per field without failing (invalid UTF-8 becomes U+FFFD): the caller
 *   finds invalid bytes by offset (`Utf8Watch`) and rejects the records holding them.
 * - Errors ({@linkcode CsvSyntaxError}) name the line and the column (in bytes, 1-based): a quote
 *   that never closes (where it opened), a quote inside an unquoted field, anything but `,` or a
 *   line end after a closing quote.
 *
 * Linear in the input: every byte is looked at once, a field's bytes are copied only when it
 * spans chunks (into one growing buffer), and nothing is built per record but the record.
 * @module
 */

/** A record: its cells, the line it starts on, and where it lies in the body. */
export interface CsvRecord {
  cells: string[];
  /** 1-based line of the record's first byte (line ends inside quotes count). */
  line: number;
  /** Byte offset of the record's first byte in the body (a BOM counted). */
  start: number;
  /** Byte offset where the record ends: its line end, or the end of the body. */
  end: number;
}

/** Broken CSV syntax, with where it is. */
export class CsvSyntaxError extends Error {
  constructor(
    /** What is wrong, in two or three words (`Quote Not Closed`). */
    readonly reason: string,
    /** Why, in a sentence. */
    readonly detail: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${reason} at line ${line}, column ${column}: ${detail}`);
    this.name = "CsvSyntaxError";
  }
}

const QUOTE = 0x22, COMMA = 0x2c, CR = 0x0d, LF = 0x0a;
const BOM = [0xef, 0xbb, 0xbf];
/** Fields up to this many bytes are decoded by hand when ASCII (see `#text`). */
const SHORT = 24;

/** Where the tokenizer is in the grammar. */
const enum State {
  /** At the start of a field (after a comma, or at the start of a record). */
  FieldStart,
  /** Inside a field that did not start with a quote. */
  Bare,
  /** Inside a quoted field. */
  Quoted,
  /** Just after a quote inside a quoted field: a second one is a literal, else it closed. */
  QuoteSeen,
}

/**
 * Feed it chunks with {@linkcode push}, then call {@linkcode finish}; each returns the records
 * completed so far. On broken syntax the records before it are returned first: the
 * {@linkcode CsvSyntaxError} is then in {@linkcode error} and thrown by every later call, so a
 * caller meets problems in body order (a bad header before a bad quote further on).
 */
export class CsvTokenizer {
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  #state = State.FieldStart;
  /** Body offset of the current chunk's first byte. */
  #base = 0;
  /** 1-based line of the byte being read. */
  #line = 1;
  /** Body offset of the current line's first byte (for columns). */
  #lineStart = 0;
  /** The previous byte was a CR ending a line: an LF right after it belongs to the same end. */
  #afterCr = false;
  /** Up to 3 bytes held at the start of the body until it is known whether they are a BOM. */
  #head: number[] | undefined = [];
  /** Cells of the record being read. */
  #cells: string[] = [];
  /** Whether the record being read has begun (a byte of it was read). */
  #inRecord = false;
  #recordLine = 1;
  #recordStart = 0;
  /** Where the current field's bytes start in the chunk being read (-1: before it). */
  #fieldAt = 0;
  /** The current field's bytes from earlier chunks. */
  #carry = new Uint8Array(64);
  #carried = 0;
  /** The current quoted field holds a doubled quote (to be undoubled once decoded). */
  #doubled = false;
  /** Line and column of the current quoted field's opening quote. */
  #quoteLine = 0;
  #quoteColumn = 0;

  /** The syntax error met, once met (the records before it were returned). */
  /** Where the record being read (begun, not ended) starts: its 1-based line and byte offset. */
  get openRecord(): { line: number; start: number } | undefined {
    return this.#inRecord ? { line: this.#recordLine, start: this.#recordStart } : undefined;
  }

  get error(): CsvSyntaxError | undefined {
    return this.#error;
  }
  #error: CsvSyntaxError | undefined;

  /** Tokenizes one chunk; returns the records it completed. */
  push(chunk: Uint8Array): CsvRecord[] {
    if (this.#error) throw this.#error;
    const out: CsvRecord[] = [];
    if (this.#head !== undefined) {
      chunk = this.#skipBom(chunk, false);
      if (this.#head !== undefined) return out;
    }
    this.#guard(() => this.#scan(chunk, out));
    return out;
  }

  /** Ends the body; returns the last record, if it did not end with a line end. */
  finish(): CsvRecord[] {
    if (this.#error) throw this.#error;
    const out: CsvRecord[] = [];
    this.#guard(() => this.#end(out));
    return out;
  }

  /** Runs `f`; a syntax error it throws is kept for the next call, the records so far stand. */
  #guard(f: () => void): void {
    try {
      f();
    } catch (error) {
      if (!(error instanceof CsvSyntaxError)) throw error;
      this.#error = error;
    }
  }

  #end(out: CsvRecord[]): void {
    if (this.#head !== undefined) this.#scan(this.#skipBom(new Uint8Array(0), true), out);
    this.#fieldAt = 0; // what is left of an open field is all carried
    switch (this.#state) {
      case State.Quoted:
        throw this.#syntax(
          "Quote Not Closed",
          "the body ends inside the quoted field opened there",
          this.#quoteLine,
          this.#quoteColumn,
        );
      case State.QuoteSeen:
        this.#endField(new Uint8Array(0), 0, true);
        break;
      case State.Bare:
        this.#endField(new Uint8Array(0), 0, false);
        break;
      case State.FieldStart:
        if (!this.#inRecord) return;
        this.#cells.push("");
    }
    this.#endRecord(this.#base, out);
  }

  /** Holds the first bytes until it is known whether they are a BOM; the rest, once it is. */
  #skipBom(chunk: Uint8Array, final: boolean): Uint8Array {
    const head = this.#head!;
    let i = 0;
    while (head.length < 3 && i < chunk.length) head.push(chunk[i++]);
    if (head.length < 3 && !final && head.every((b, k) => b === BOM[k])) return new Uint8Array(0);
    this.#head = undefined;
    if (head.length === 3 && head.every((b, k) => b === BOM[k])) {
      this.#base = this.#lineStart = this.#recordStart = 3;
      return chunk.subarray(i);
    }
    // Not a BOM: the held bytes are the body's first.
    const all = new Uint8Array(head.length + chunk.length - i);
    all.set(head);
    all.set(chunk.subarray(i), head.length);
    return all;
  }

  #scan(chunk: Uint8Array, out: CsvRecord[]): void {
    const n = chunk.length;
    let i = 0;
    if (this.#afterCr && n > 0) {
      this.#afterCr = false;
      if (chunk[0] === LF) {
        i = 1;
        this.#lineStart = this.#base + 1;
        if (!this.#inRecord) this.#recordStart = this.#base + 1;
      }
    }
    this.#fieldAt = this.#state === State.FieldStart ? -1 : 0;
    for (; i < n; i++) {
      const b = chunk[i];
      switch (this.#state) {
        case State.FieldStart:
          if (!this.#inRecord) {
            if (b === CR || b === LF) {
              // An empty line: skipped.
              i = this.#lineEnd(chunk, i);
              this.#recordStart = this.#lineStart;
              continue;
            }
            this.#inRecord = true;
            this.#recordLine = this.#line;
            this.#recordStart = this.#base + i;
          }
          if (b === QUOTE) {
            this.#state = State.Quoted;
            this.#fieldAt = i + 1;
            this.#doubled = false;
            this.#quoteLine = this.#line;
            this.#quoteColumn = this.#base + i - this.#lineStart + 1;
          } else if (b === COMMA) {
            this.#cells.push("");
          } else if (b === CR || b === LF) {
            this.#cells.push("");
            this.#endRecord(this.#base + i, out);
            i = this.#lineEnd(chunk, i);
          } else {
            this.#state = State.Bare;
            this.#fieldAt = i;
          }
          break;
        case State.Bare:
          if (b === COMMA) {
            this.#endField(chunk, i, false);
            this.#state = State.FieldStart;
          } else if (b === CR || b === LF) {
            this.#endField(chunk, i, false);
            this.#state = State.FieldStart;
            this.#endRecord(this.#base + i, out);
            i = this.#lineEnd(chunk, i);
          } else if (b === QUOTE) {
            throw this.#syntax(
              "Invalid Opening Quote",
              "a quote inside an unquoted field (quote the whole field and double the quote)",
              this.#line,
              this.#base + i - this.#lineStart + 1,
            );
          }
          break;
        case State.Quoted: {
          // Jump to the next quote, counting the line ends passed on the way.
          let q = chunk.indexOf(QUOTE, i);
          if (q < 0) q = n;
          for (let k = i; k < q; k++) {
            const c = chunk[k];
            if (c === LF) {
              if (!(k > 0 ? chunk[k - 1] === CR : this.#afterCr)) this.#line++;
              this.#lineStart = this.#base + k + 1;
            } else if (c === CR) {
              this.#line++;
              this.#lineStart = this.#base + k + 1;
            }
          }
          this.#afterCr = q === n && chunk[n - 1] === CR;
          if (q < n) this.#state = State.QuoteSeen;
          i = q;
          break;
        }
        case State.QuoteSeen:
          if (b === QUOTE) {
            this.#doubled = true;
            this.#state = State.Quoted;
            this.#afterCr = false;
          } else if (b === COMMA) {
            this.#endField(chunk, i, true);
            this.#state = State.FieldStart;
          } else if (b === CR || b === LF) {
            this.#endField(chunk, i, true);
            this.#state = State.FieldStart;
            this.#endRecord(this.#base + i, out);
            i = this.#lineEnd(chunk, i);
          } else {
            throw this.#syntax(
              "Invalid Closing Quote",
              "a closing quote must be followed by a comma or a line end",
              this.#line,
              this.#base + i - this.#lineStart + 1,
            );
          }
          break;
      }
    }
    // A field still open: its bytes so far are carried to the next chunk.
    if (this.#state !== State.FieldStart && this.#fieldAt < n) {
      this.#keep(chunk.subarray(this.#fieldAt));
    }
    this.#base += n;
  }

  /**
   * Passes the line end at `i` (CR, LF or CR LF, across chunks too); returns the index of its
   * last byte in the chunk.
   */
  #lineEnd(chunk: Uint8Array, i: number): number {
    this.#line++;
    if (chunk[i] === CR) {
      if (i + 1 < chunk.length) {
        if (chunk[i + 1] === LF) i++;
      } else this.#afterCr = true;
    }
    this.#lineStart = this.#base + i + 1;
    return i;
  }

  /** Ends the field whose bytes end before `i` (past its closing quote when `quoted`). */
  #endField(chunk: Uint8Array, i: number, quoted: boolean): void {
    let text: string;
    if (this.#carried === 0) {
      text = this.#text(chunk, Math.max(this.#fieldAt, 0), quoted ? i - 1 : i);
    } else {
      this.#keep(chunk.subarray(0, i));
      text = this.#text(this.#carry, 0, quoted ? this.#carried - 1 : this.#carried);
      this.#carried = 0;
    }
    if (quoted && this.#doubled) text = text.replaceAll('""', '"');
    this.#cells.push(text);
    this.#fieldAt = i + 1;
  }

  /**
   * The text of `bytes[from, to)`. Short ASCII fields (most cells) are built in one
   * `String.fromCharCode` call: a TextDecoder call costs more, and building them a character at
   * a time made a string per character (a third of CSV decoding was the collector's).
   */
  #text(bytes: Uint8Array, from: number, to: number): string {
    if (to - from === 1 && bytes[from] < 0x80) return String.fromCharCode(bytes[from]);
    if (to - from <= SHORT) {
      for (let k = from; k < to; k++) {
        if (bytes[k] >= 0x80) return this.#decoder.decode(bytes.subarray(from, to));
      }
      return String.fromCharCode.apply(null, bytes.subarray(from, to) as unknown as number[]);
    }
    return this.#decoder.decode(bytes.subarray(from, to));
  }

  #endRecord(end: number, out: CsvRecord[]): void {
    out.push({ cells: this.#cells, line: this.#recordLine, start: this.#recordStart, end });
    this.#cells = [];
    this.#inRecord = false;
    this.#fieldAt = -1;
  }

  /** Appends bytes to the carried field, growing the buffer by doubling (linear overall). */
  #keep(bytes: Uint8Array): void {
    const need = this.#carried + bytes.length;
    if (need > this.#carry.length) {
      const grown = new Uint8Array(Math.max(need, this.#carry.length * 2));
      grown.set(this.#carry.subarray(0, this.#carried));
      this.#carry = grown;
    }
    this.#carry.set(bytes, this.#carried);
    this.#carried = need;
  }

  #syntax(reason: string, detail: string, line: number, column: number): CsvSyntaxError {
    return new CsvSyntaxError(reason, detail, line, column);
  }
}
