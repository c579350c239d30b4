/**
 * Finding invalid UTF-8, for the decoders that must name the line or record holding it instead
 * of turning it into U+FFFD. Bodies are checked with a fatal TextDecoder first (native speed);
 * these scans run only on a body that failed that check, to say where.
 *
 * @module
 */

/** A strict decoder: throws on invalid UTF-8. Keeps a leading BOM as text (callers skip it). */
export const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Invalid sequences found in a piece of bytes. */
export interface Utf8Scan {
  /** Offsets where invalid sequences start, ascending (at most the `limit` asked for). */
  invalid: number[];
  /**
   * Where an incomplete but so far valid sequence at the end starts (`bytes.length` when none):
   * the bytes from there must be scanned again with what follows.
   */
  tail: number;
}

/**
 * Scans `bytes` for invalid UTF-8 (the rules of the Encoding Standard: no overlong forms, no
 * surrogates, nothing above U+10FFFF). An incomplete sequence at the end is invalid when
 * `final`, else left as the `tail`.
 */
export function scanUtf8(bytes: Uint8Array, final: boolean, limit = Infinity): Utf8Scan {
  const invalid: number[] = [];
  const n = bytes.length;
  let i = 0;
  while (i < n && invalid.length < limit) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number, low = 0x80, high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) low = 0xa0;
      else if (b === 0xed) high = 0x9f; // no surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) low = 0x90;
      else if (b === 0xf4) high = 0x8f; // nothing above U+10FFFF
    } else {
      invalid.push(i++);
      continue;
    }
    let k = 1;
    for (; k <= need && i + k < n; k++) {
      const c = bytes[i + k];
      if (c < (k === 1 ? low : 0x80) || c > (k === 1 ? high : 0xbf)) break;
    }
    if (k > need) i += need + 1;
    else if (i + k >= n && !final) return { invalid, tail: i };
    else {
      // The lead and the continuation bytes that fitted are one bad sequence.
      invalid.push(i);
      i += k;
    }
  }
  return { invalid, tail: n };
}

/** The offset of the first invalid UTF-8 sequence in `bytes`, or -1 when they are valid. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const { invalid } = scanUtf8(bytes, true, 1);
  return invalid.length === 0 ? -1 : invalid[0];
}

/**
 * Watches a byte stream go by and notes the stream offsets of bytes that are not UTF-8, so a
 * decoder that turns them into U+FFFD (the CSV tokenizer) can still reject the records holding
 * them.
 * Each chunk goes through a fatal streaming TextDecoder (native speed); only a chunk it refuses
 * is scanned here, with the unfinished sequence the previous chunk ended on.
 */
export class Utf8Watch {
  /** Offsets of invalid sequences from the start of the stream, ascending; callers shift them. */
  readonly invalid: number[] = [];
  /** Stream offset of the next chunk. */
  #offset = 0;
  #decoder = fatalStreamDecoder();
  /** The last (up to 3) bytes seen: where an unfinished sequence at a chunk end is. */
  #last: Uint8Array = new Uint8Array(0);

  /** A pass-through stream that watches what flows through it. */
  stream(): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream({
      transform: (chunk, controller) => {
        this.#see(chunk);
        controller.enqueue(chunk);
      },
      flush: () => {
        try {
          this.#decoder.decode();
        } catch {
          // The stream ends inside a sequence.
          this.invalid.push(this.#offset - unfinishedTail(this.#last).length);
        }
      },
    });
  }

  #see(chunk: Uint8Array): void {
    try {
      this.#decoder.decode(chunk, { stream: true });
    } catch {
      this.#scan(chunk);
    }
    this.#offset += chunk.length;
    if (chunk.length >= 3) this.#last = chunk.slice(chunk.length - 3);
    else {
      const joined = new Uint8Array(this.#last.length + chunk.length);
      joined.set(this.#last);
      joined.set(chunk, this.#last.length);
      this.#last = joined.slice(Math.max(0, joined.length - 3));
    }
  }

  /** The slow path: finds the bad sequences of a chunk the decoder refused. */
  #scan(chunk: Uint8Array): void {
    const carry = unfinishedTail(this.#last);
    const bytes = new Uint8Array(carry.length + chunk.length);
    bytes.set(carry);
    bytes.set(chunk, carry.length);
    const base = this.#offset - carry.length;
    const { invalid, tail } = scanUtf8(bytes, false);
    for (const at of invalid) this.invalid.push(base + at);
    // A fresh decoder, given the unfinished (so far valid) sequence this chunk ends on.
    this.#decoder = fatalStreamDecoder();
    if (tail < bytes.length) this.#decoder.decode(bytes.subarray(tail), { stream: true });
  }
}

function fatalStreamDecoder(): TextDecoder {
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
}

/** The bytes at the end of `last` that begin a sequence not finished yet (lead bytes resync). */
function unfinishedTail(last: Uint8Array): Uint8Array {
  return last.subarray(scanUtf8(last, false).tail);
}
