/**
 * Where the unfinished line of a line-protocol stream ends, found as its bytes arrive chunk by
 * chunk. The rules are those of line_protocol.ts's `LineSplitter` for one line: a comment (the
 * first byte after leading whitespace is `#`) ends at its newline; any other line at the first
 * newline that is neither escaped (a backslash hides the byte after it) nor inside a quoted field
 * value. The state carries over between chunks, so a long line costs one pass, not one pass over
 * everything received so far for every chunk (a 1 MiB line in 256-byte chunks took 8 s that way).
 * @module
 */

const TAB = 9, NL = 10, SPACE = 32, QUOTE = 34, HASH = 35, COMMA = 44, EQ = 61, BACKSLASH = 92;

/** The scan of one line, resumable across chunks (see the module doc). */
export class LineEndScan {
  #leading = true;
  #comment = false;
  #escaped = false;
  #quoted = false;
  #fields = false;
  #equals = 0;
  #commas = 0;

  /** Starts over, at the first byte of a line. */
  reset(): void {
    this.#leading = true;
    this.#comment = false;
    this.#escaped = false;
    this.#quoted = false;
    this.#fields = false;
    this.#equals = 0;
    this.#commas = 0;
  }

  /** Reads `bytes` on from where the line's last bytes left off: the index of the newline that ends the line, or -1. */
  feed(bytes: Uint8Array): number {
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      if (this.#leading && c !== SPACE && c !== TAB && c !== 0) {
        this.#leading = false;
        this.#comment = c === HASH;
      }
      if (this.#comment) {
        if (c === NL) return i;
        continue;
      }
      // As InfluxDB's scanLine: an escaped byte is skipped; once past the first space, an equals
      // sign or comma outside quotes counts, and a quote after more equals than commas opens or
      // closes a string field value, which hides newlines.
      if (this.#escaped) {
        this.#escaped = false;
        continue;
      }
      if (c === BACKSLASH) {
        this.#escaped = true;
        continue;
      }
      if (c === SPACE) this.#fields = true;
      if (this.#fields) {
        if (!this.#quoted && c === EQ) {
          this.#equals++;
          continue;
        }
        if (!this.#quoted && c === COMMA) {
          this.#commas++;
          continue;
        }
        if (c === QUOTE && this.#equals > this.#commas) {
          this.#quoted = !this.#quoted;
          continue;
        }
      }
      if (c === NL && !this.#quoted) return i;
    }
    return -1;
  }
}
