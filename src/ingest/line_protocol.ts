/**
 * InfluxDB 1.x line protocol, decoded from bytes to {@linkcode Point}s with per-line errors.
 *
 * ```text
 * measurement[,tag=value...] field=value[,field=value...] [timestamp]
 * ```
 *
 * The grammar and the error reasons follow InfluxDB 1.6's `models/points.go`, checked against
 * a running influxd 1.6.7:
 *
 * - Escapes. Measurement: `\,` `\ ` `\=` `\"` (influxd stores `m\=x` as `m=x`); tag keys and
 *   values: `\,` `\=` `\ `; field keys: `\,` `\=` `\ ` `\"`; string field values: `\"` `\\`.
 *   A backslash before any other byte is kept literally. In the measurement and the tags a
 *   byte right after a backslash is never a separator (so `a\\,b` is one name), as influxd.
 * - Field values: floats (`1`, `-1.5`, `.5`, `1e-3`), integers `12i` (the full int64 range,
 *   exact: `number` when safe, `bigint` beyond), unsigned `12u` (uint64), strings `"..."`
 *   (which may hold commas, spaces, equals signs and newlines), booleans `t T true True TRUE
 *   f F false False FALSE`. Out-of-range numbers are rejected with influxd's reasons (`invalid
 *   number`, `invalid boolean`, `invalid float`, `unable to parse integer ...`); `NaN` and the
 *   infinities (any case and sign) with `invalid number: field "v" is Inf, and only finite
 *   numbers can be stored` (influxd says `invalid boolean` for `Inf`, which it is not).
 * - A field repeated in one line: the last value wins; repeated with another type: the line is
 *   rejected (`field type conflict`). A tag key repeated: `duplicate tags`. Tags come out
 *   sorted by key; an empty tag value is an error (`missing tag value`). The points of one
 *   series (with a shared {@linkcode LineProtocolCache}, across calls too) share one frozen tag
 *   array: a caller that wants other tags builds a new array. They are
 *   {@linkcode PackedPoint}s: the points of the same field keys, types and order share one
 *   frozen field layout (cached with the series), and each holds only its values.
 * - Timestamps: an integer in the request's precision (`ns` default, `u`/`us`/`µ`, `ms`, `s`,
 *   `m`, `h`, or `auto`: by the number of digits, as the native JSON API reads numbers: up to
 *   11 digits seconds, 14 milliseconds, 17 microseconds, else nanoseconds), converted from its
 *   digits to `(timeMs, timeSubMs)` without BigInt; outside InfluxDB's range
 *   (±9223372036854775806 ns) it is `time outside range ...`, followed by a hint when the digits
 *   read in another precision mean a time near `defaultTime` (`timestamps look like
 *   milliseconds: pass precision=ms`). A line without one gets the caller's `defaultTime`,
 *   truncated to the precision (as influxd does).
 * - Lines starting with `#` (after optional whitespace) are comments; blank lines are skipped.
 *
 * Deliberate differences from influxd 1.6.7, all in favour of accepting clean input or of
 * rejecting garbage: a trailing `\r` (CRLF line ends) is accepted; unsigned `u` values are
 * accepted (influxd 1.6 needs a build flag); a comment line always ends at its newline even
 * if it holds a quote; bytes after a closing string quote other than `,` or a space are
 * `invalid field format` (influxd silently mangles the value); names and strings must be
 * valid UTF-8.
 *
 * Points of the same series share one frozen tag array and its frozen `Tag` objects: build a
 * new array (and new Tags) for other tags; assigning to one throws.
 *
 * @module
 */

import {
  compactInteger,
  type FieldLayout,
  FieldLayouts,
  FieldType,
  type FieldValue,
  type Instant,
  INT64_MAX,
  INT64_MIN,
  MAX_KEY_LENGTH,
  PackedPoint,
  type Point,
  type Precision,
  sameLayout,
  sortTags,
  type Tag,
  UINT64_MAX,
} from "../core/mod.ts";
import { decodeRange, excerpt } from "./_text.ts";
import { decimalToDouble } from "./lp_decimal.ts";
import { LineEndScan } from "./_line_end.ts";
import { precisionHint, precisionHintText } from "./time_hint.ts";
import {
  instantFromDigits,
  type MutableInstant,
  type PrecisionSpec,
  precisionSpec,
  TIME_RANGE_REASON,
  truncateInstant,
} from "./_timestamp.ts";

/** One line that could not be decoded. Good lines around it are still decoded. */
export interface LineError {
  /** 1-based line number of the line (of its first line when a string spans several). */
  line: number;
  /** 1-based byte column, counted from the start of the line, where the problem was found. */
  column: number;
  /** InfluxDB's reason, e.g. `invalid number`, `missing tag value`, `unbalanced quotes`. */
  reason: string;
  /** The offending line without leading whitespace, cut to `errorTextLimit` bytes. */
  text: string;
  /** The field key the problem is about, when there is one. */
  field?: string;
}

/** Decoded points and the errors of the lines that failed. */
export interface LineProtocolResult {
  points: Point[];
  /** The 1-based line each point was on (parallel to `points`). */
  lines: number[];
  errors: LineError[];
}

/** Options of {@linkcode parseLineProtocol} and {@linkcode LineProtocolDecoder}. */
export interface LineProtocolOptions {
  /** Unit of the timestamps in the body; `auto` picks it by magnitude. @default {"ns"} */
  precision?: Precision | "auto";
  /** Time of points without a timestamp (the request's arrival time). */
  defaultTime: Instant;
  /**
   * Remembers decoded series keys and field keys between calls (a server keeps one per
   * database). Without one, each call uses a fresh cache.
   */
  cache?: LineProtocolCache;
  /** Longest `text` in a {@linkcode LineError}, in bytes. @default {200} */
  errorTextLimit?: number;
}

// Byte values.
const TAB = 9, NL = 10, CR = 13, SPACE = 32, QUOTE = 34, HASH = 35, PLUS = 43, COMMA = 44;
const MINUS = 45, DOT = 46, ZERO = 48, NINE = 57, EQ = 61, UPPER_E = 69, UPPER_F = 70;
const UPPER_N = 78, UPPER_T = 84, BACKSLASH = 92, LOWER_E = 101, LOWER_F = 102;
const LOWER_I = 105, LOWER_N = 110, LOWER_T = 116, LOWER_U = 117;

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
/** Keeps hashes in V8's small-integer range, so Map lookups do not box them. */
const HASH_MASK = 0x3fffffff;

/**
 * Up to this many tags a line's tags are compared one by one and insertion-sorted (cheapest
 * for the few, mostly sorted tags of real clients); beyond, a Set and a sort keep a line of
 * thousands of tags linear, not quadratic.
 */
const SMALL_TAG_SET = 32;

const LATIN1 = new TextDecoder("latin1");

/** NaN and the infinities as a client may spell them: refused, with what they are. */
const NON_FINITE = /^[+-]?(inf|infinity|nan)$/i;

/** 10^k for the exact fast path of float parsing (k <= 22 is exact in a double). */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

function escapeTable(chars: string): Uint8Array {
  const table = new Uint8Array(256);
  for (const c of chars) table[c.charCodeAt(0)] = 1;
  return table;
}
const MEASUREMENT_ESCAPES = escapeTable(', ="');
const TAG_ESCAPES = escapeTable(", =");
const FIELD_KEY_ESCAPES = escapeTable(', ="');
const STRING_ESCAPES = escapeTable('"\\');

interface KeyEntry {
  /** Where the raw key bytes sit in the cache's arena. */
  offset: number;
  length: number;
  measurement: string;
  /** Frozen: every point of the series gets this array (Point.tags is read-only). */
  tags: readonly Tag[];
  next: KeyEntry | undefined;
  /**
   * The field keys of the series' last line, by position: the parser's first guess for the
   * next line's (clients write a series' fields in the same order every time). Shared by the
   * series of a measurement created one after another (they mostly carry the same fields): a
   * guess is checked before use, so another series overwriting it costs a lookup, never a
   * wrong key, and 100k series do not hold 100k copies.
   */
  fieldKeys: (FieldKeyEntry | undefined)[];
  /** The cache generation the entry belongs to: an emptied cache reuses its arena's bytes. */
  generation: number;
  /** The field layout of the series' last line (its points share it while it holds). */
  layout: FieldLayout | undefined;
  /** The series of the line that followed this one last time (the parser's first guess). */
  follower: KeyEntry | undefined;
}

interface FieldKeyEntry {
  offset: number;
  length: number;
  key: string;
  /**
   * Where the key was last used, shared by every entry that decodes to the same key (`a"b` and
   * `a\"b` are one field): finds a repeated field in O(1).
   */
  use: FieldKeyUse;
  next: FieldKeyEntry | undefined;
  /** The field-key table generation: an emptied table reuses its arena's bytes. */
  generation: number;
}

/** The last record a field key was used in, and the index of its field there. */
interface FieldKeyUse {
  serial: number;
  slot: number;
}

/** Raw key bytes, copied end to end into one buffer (one typed array, not one per key). */
class ByteArena {
  #bytes = new Uint8Array(4096);
  #used = 0;

  add(buf: Uint8Array, start: number, end: number): number {
    const n = end - start;
    if (this.#used + n > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#used + n));
      grown.set(this.#bytes.subarray(0, this.#used));
      this.#bytes = grown;
    }
    const offset = this.#used;
    this.#bytes.set(buf.subarray(start, end), offset);
    this.#used += n;
    return offset;
  }

  /** True when `buf[start, end)` begins with the `length` bytes at `offset`, then `next`. */
  startsWith(
    offset: number,
    length: number,
    buf: Uint8Array,
    start: number,
    end: number,
    next: number,
  ): boolean {
    if (start + length >= end || buf[start + length] !== next) return false;
    const bytes = this.#bytes;
    for (let k = 0; k < length; k++) if (buf[start + k] !== bytes[offset + k]) return false;
    return true;
  }

  equals(offset: number, length: number, buf: Uint8Array, start: number, end: number): boolean {
    if (end - start !== length) return false;
    const bytes = this.#bytes;
    for (let k = 0; k < length; k++) if (buf[start + k] !== bytes[offset + k]) return false;
    return true;
  }

  reset(): void {
    this.#used = 0;
  }
}

/**
 * Decoded series keys (measurement and sorted tags) and field keys, looked up by the raw
 * bytes of the line, so a series seen before costs one hash and one byte comparison.
 * Bounded: when a table passes `maxEntries` it is emptied and refilled.
 */
export class LineProtocolCache {
  /** Entries per table before it is emptied. */
  readonly maxEntries: number;
  #keys = new Map<number, KeyEntry>();
  #keyBytes = new ByteArena();
  #keyCount = 0;
  #keyGeneration = 0;
  #fieldKeys = new Map<number, FieldKeyEntry>();
  #fieldKeyBytes = new ByteArena();
  #fieldKeyCount = 0;
  #fieldKeyGeneration = 0;
  /** The use of each decoded field key holding a quote (see FieldKeyEntry.use). */
  #fieldKeyUses = new Map<string, FieldKeyUse>();
  /** Measurements, tag keys and tag values of new series, interned (bounded; see intern). */
  #strings = new Map<string, string>();
  /** The field layouts of the points parsed, shared by the points of the same fields. */
  readonly layouts = new FieldLayouts();

  /** @param options.maxEntries entries per table @default {100000} */
  constructor(options: { maxEntries?: number } = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  /** Number of series keys held. */
  get size(): number {
    return this.#keyCount;
  }

  /** Forgets everything. */
  clear(): void {
    this.#keys.clear();
    this.#keyBytes.reset();
    this.#keyCount = 0;
    this.#keyGeneration++;
    this.#fieldKeys.clear();
    this.#fieldKeyBytes.reset();
    this.#fieldKeyCount = 0;
    this.#fieldKeyGeneration++;
    this.#fieldKeyUses.clear();
    this.#strings.clear();
  }

  /**
   * For the parser: one string object per distinct name of new series' keys. 100k series share
   * a measurement, ten tag keys and most tag values; without this each series held its own
   * copies (~400 B). Emptied at `maxEntries` / 16 strings, so unique values (host names) only
   * cycle it: the common ones come back at once.
   */
  intern(text: string): string {
    const known = this.#strings.get(text);
    if (known !== undefined) return known;
    if (this.#strings.size >= this.maxEntries / 16) this.#strings.clear();
    this.#strings.set(text, text);
    return text;
  }

  /** For the parser: the series key whose raw bytes are `buf[start, end)`. */
  findKey(hash: number, buf: Uint8Array, start: number, end: number): KeyEntry | undefined {
    for (let e = this.#keys.get(hash); e !== undefined; e = e.next) {
      if (this.#keyBytes.equals(e.offset, e.length, buf, start, end)) return e;
    }
    return undefined;
  }

  /**
   * For the parser: remembers the decoded series key of `buf[start, end)`; `fieldKeys` is the
   * field-key guess array to share (a new one by default).
   */
  addKey(
    hash: number,
    buf: Uint8Array,
    start: number,
    end: number,
    measurement: string,
    tags: readonly Tag[],
    fieldKeys: (FieldKeyEntry | undefined)[] = [],
  ): KeyEntry {
    if (this.#keyCount >= this.maxEntries) {
      this.#keys.clear();
      this.#keyBytes.reset();
      this.#keyCount = 0;
      this.#keyGeneration++;
    }
    const offset = this.#keyBytes.add(buf, start, end);
    const next = this.#keys.get(hash);
    const entry: KeyEntry = {
      offset,
      length: end - start,
      measurement,
      tags,
      next,
      fieldKeys,
      generation: this.#keyGeneration,
      layout: undefined,
      follower: undefined,
    };
    this.#keys.set(hash, entry);
    this.#keyCount++;
    return entry;
  }

  /**
   * For the parser: true when `buf[start, end)` starts with the raw bytes of `entry` (a series
   * key of the current table) followed by a space, so that the series key there is `entry`'s.
   */
  matchKey(entry: KeyEntry, buf: Uint8Array, start: number, end: number): boolean {
    // The stored key ended at its first unescaped space and holds none: equal bytes followed by
    // a space end the line's key at the same place.
    return entry.generation === this.#keyGeneration &&
      this.#keyBytes.startsWith(entry.offset, entry.length, buf, start, end, SPACE);
  }

  /**
   * For the parser: true when `buf[start, end)` starts with the raw bytes of `entry` (a field
   * key of the current table) followed by `=`, so that the field key there is `entry`'s.
   */
  matchFieldKey(entry: FieldKeyEntry, buf: Uint8Array, start: number, end: number): boolean {
    return entry.generation === this.#fieldKeyGeneration &&
      this.#fieldKeyBytes.startsWith(entry.offset, entry.length, buf, start, end, EQ);
  }

  /** For the parser: the field key whose raw bytes are `buf[start, end)`. */
  findFieldKey(
    hash: number,
    buf: Uint8Array,
    start: number,
    end: number,
  ): FieldKeyEntry | undefined {
    for (let e = this.#fieldKeys.get(hash); e !== undefined; e = e.next) {
      if (this.#fieldKeyBytes.equals(e.offset, e.length, buf, start, end)) return e;
    }
    return undefined;
  }

  /** For the parser: remembers the decoded field key of `buf[start, end)`. */
  addFieldKey(
    hash: number,
    buf: Uint8Array,
    start: number,
    end: number,
    key: string,
  ): FieldKeyEntry {
    const offset = this.#fieldKeyBytes.add(buf, start, end);
    const next = this.#fieldKeys.get(hash);
    // Only a key holding a quote has two spellings (`"` and `\"`): only those share a use.
    let use = key.includes('"') ? this.#fieldKeyUses.get(key) : undefined;
    if (use === undefined) {
      use = { serial: 0, slot: 0 };
      if (key.includes('"')) this.#fieldKeyUses.set(key, use);
    }
    const entry: FieldKeyEntry = {
      offset,
      length: end - start,
      key,
      use,
      next,
      generation: this.#fieldKeyGeneration,
    };
    this.#fieldKeys.set(hash, entry);
    this.#fieldKeyCount++;
    return entry;
  }

  #recordSerial = 0;

  /**
   * For the parser: a number for the next record, unique over the cache's life. Field-key
   * entries remember the serial of the record that last used them, so the serial must not
   * restart when a second body is parsed with the same cache.
   */
  nextRecordSerial(): number {
    return ++this.#recordSerial;
  }

  /** For the parser, between lines only: empties the field-key table when it is full. */
  trimFieldKeys(): void {
    if (this.#fieldKeyCount >= this.maxEntries) {
      this.#fieldKeys.clear();
      this.#fieldKeyBytes.reset();
      this.#fieldKeyCount = 0;
      this.#fieldKeyGeneration++;
      this.#fieldKeyUses.clear();
    }
  }
}

/**
 * Decodes a line-protocol body. Lines that fail are reported in `errors` and skipped; the
 * others are decoded.
 *
 * @example
 * ```ts
 * const body = new TextEncoder().encode("cpu,host=a usage=0.5,count=3i 1678886400000000000\n");
 * const { points, errors } = parseLineProtocol(body, { defaultTime: { ms: 0, subMs: 0 } });
 * // points[0]: measurement "cpu", tags [{key: "host", value: "a"}] (frozen, shared by the
 * //   series' points), fields usage (float 0.5) and count (integer 3) as a shared layout
 * //   (`points[0].layout`) and values [0.5, 3], timeMs 1678886400000, timeSubMs 0
 * ```
 */
export function parseLineProtocol(
  body: Uint8Array,
  options: LineProtocolOptions,
): LineProtocolResult {
  const parser = new Parser(options);
  parser.run(body, true);
  return { points: parser.points, lines: parser.lines, errors: parser.errors };
}

/** An unfinished line this long is followed by a resumable scan rather than parsed again. */
const LONG_PENDING_LINE = 4096;

/**
 * Decodes a body that arrives in chunks: each {@linkcode push} decodes the complete lines
 * received so far and keeps the unfinished tail for the next chunk; {@linkcode finish}
 * decodes that tail. Line numbers run on across chunks.
 *
 * @example
 * ```ts
 * const decoder = new LineProtocolDecoder({ defaultTime: { ms: 0, subMs: 0 } });
 * const enc = new TextEncoder();
 * decoder.push(enc.encode("cpu value=1 1\ncpu val")); // one point
 * decoder.push(enc.encode("ue=2 2\n")); // one point
 * decoder.finish(); // nothing left
 * ```
 */
export class LineProtocolDecoder {
  #parser: Parser;
  /** The unfinished last line, as received (joined only once its end arrives). */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Where the scan for the end of a long pending line stands (`#scanning` once started). */
  #scan = new LineEndScan();
  #scanning = false;

  constructor(options: LineProtocolOptions) {
    this.#parser = new Parser(options);
  }

  /** Bytes received but not decoded yet (an unfinished last line). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** The 1-based number of the line the pending bytes start (the next line to decode). */
  get pendingLine(): number {
    return this.#parser.nextLine;
  }

  /** Decodes the complete lines of everything received so far. */
  push(chunk: Uint8Array): LineProtocolResult {
    // A short unfinished line is parsed again with the next chunk (cheap). A long one is
    // followed by a scan that resumes where the last chunk ended, and parsed once it ends: going
    // over it again for every chunk made a 1 MiB line in 256-byte chunks cost 8 s.
    if (this.#pendingBytes >= LONG_PENDING_LINE) {
      if (!this.#scanning) {
        this.#scan.reset();
        for (const p of this.#pending) this.#scan.feed(p);
        this.#scanning = true;
      }
      if (this.#scan.feed(chunk) < 0) {
        this.#pending.push(chunk.slice());
        this.#pendingBytes += chunk.length;
        return this.#parser.take();
      }
    }
    if (this.#pendingBytes > 0 && !this.#scanning) chunk = this.#finishPendingLine(chunk);
    const buf = this.#take(chunk);
    const used = this.#parser.run(buf, false);
    if (used < buf.length) {
      this.#pending = [buf.slice(used)];
      this.#pendingBytes = buf.length - used;
    }
    return this.#parser.take();
  }

  /** Decodes whatever is left (a last line without a newline). */
  finish(): LineProtocolResult {
    this.#parser.run(this.#take(new Uint8Array(0)), true);
    return this.#parser.take();
  }

  /**
   * Decodes the pending line joined with `chunk` up to its first newline, and returns the rest
   * of `chunk`; when that newline does not end the line (it is inside a quoted string), keeps
   * it pending and returns the rest to be joined whole. Joining the whole chunk made a second
   * copy of every 64 KiB network read, garbage outside the V8 heap that 64 concurrent writes
   * piled up between collections.
   */
  #finishPendingLine(chunk: Uint8Array): Uint8Array {
    const nl = chunk.indexOf(NL);
    if (nl < 0 || nl + 1 >= chunk.length) return chunk;
    const head = this.#take(chunk.subarray(0, nl + 1));
    const used = this.#parser.run(head, false);
    if (used < head.length) {
      this.#pending = [head.slice(used)];
      this.#pendingBytes = head.length - used;
    }
    return chunk.subarray(nl + 1);
  }

  /** The pending bytes followed by `chunk`, and nothing pending any more. */
  #take(chunk: Uint8Array): Uint8Array {
    if (this.#pendingBytes === 0) return chunk;
    const buf = new Uint8Array(this.#pendingBytes + chunk.length);
    let at = 0;
    for (const p of this.#pending) {
      buf.set(p, at);
      at += p.length;
    }
    buf.set(chunk, at);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#scanning = false;
    return buf;
  }
}

/**
 * The length of the prefix of `buf` that holds only complete lines: the offset just past
 * the last newline that ends a line (a newline inside a quoted string value does not).
 * 0 when no line is complete yet.
 */
export function completeLinesEnd(buf: Uint8Array): number {
  const splitter = new LineSplitter(buf);
  let pos = 0, done = 0;
  while (pos < buf.length) {
    const end = splitter.endOf(pos);
    if (end >= buf.length) break;
    done = pos = end + 1;
  }
  return done;
}

/**
 * Finds where each line of a body ends. A comment line ends at its newline; any other line
 * at its first newline unless a quote or an escaped newline lies before it, in which case
 * {@linkcode scanLine} decides. Lines must be visited in order.
 */
class LineSplitter {
  /** Newlines inside the last line found (in quoted strings or escaped). */
  hidden = 0;
  /** Index of the next '"' at or after the current line, or the length when none. */
  #nextQuote = -1;
  /** The body's aligned 32-bit words, from byte `#head` on, for the newline search. */
  readonly #words: Int32Array;
  readonly #head: number;

  constructor(readonly buf: Uint8Array) {
    this.#head = (4 - (buf.byteOffset & 3)) & 3;
    const count = Math.max(0, (buf.length - this.#head) >> 2);
    // No whole word: a view would start past the end of a short body's buffer (RangeError).
    this.#words = count === 0
      ? new Int32Array(0)
      : new Int32Array(buf.buffer, buf.byteOffset + this.#head, count);
  }

  /** The index of the newline ending the line that starts at `pos`, or the length. */
  endOf(pos: number): number {
    const buf = this.buf, len = buf.length;
    this.hidden = 0;
    let nl = this.#newline(pos);
    if (nl < 0) return len;
    let k = pos;
    while (k < nl && isWhitespace(buf[k])) k++;
    if (buf[k] === HASH) return nl;
    if (this.#nextQuote < pos) {
      this.#nextQuote = buf.indexOf(QUOTE, pos);
      if (this.#nextQuote < 0) this.#nextQuote = len;
    }
    if (this.#nextQuote < nl || buf[nl - 1] === BACKSLASH) {
      const scanned = scanLine(buf, pos, len);
      nl = scanned.end;
      this.hidden = scanned.hidden;
    }
    return nl;
  }

  /**
   * The index of the first newline at or after `pos`, or -1. Tests four bytes at a time (a
   * word has a zero byte after XOR with 0x0a0a0a0a): twice the speed of Uint8Array's indexOf,
   * which V8 runs byte by byte in its runtime, on lines of a few hundred bytes.
   */
  #newline(pos: number): number {
    const buf = this.buf, len = buf.length, head = this.#head, words = this.#words;
    let i = pos;
    while (i < len && ((i - head) & 3) !== 0) {
      if (buf[i] === NL) return i;
      i++;
    }
    if (i >= len) return -1;
    let w = (i - head) >> 2;
    for (; w < words.length; w++) {
      const x = words[w] ^ 0x0a0a0a0a;
      if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
    }
    // The word holding the newline (the test has no false positives), or the unaligned tail.
    for (i = Math.max(i, head + w * 4); i < len; i++) if (buf[i] === NL) return i;
    return -1;
  }
}

/**
 * Where the line starting at `start` ends (the index of its newline, or `len`), exactly as
 * InfluxDB's scanLine decides: once past the first space, quotes that open a field value
 * hide newlines; a backslash hides the byte after it. Also counts the hidden newlines.
 */
function scanLine(buf: Uint8Array, start: number, len: number): { end: number; hidden: number } {
  let i = start, quoted = false, fields = false, equals = 0, commas = 0, hidden = 0;
  while (i < len) {
    const c = buf[i];
    if (c === BACKSLASH && i + 1 < len) {
      if (buf[i + 1] === NL) hidden++;
      i += 2;
      continue;
    }
    if (c === SPACE) fields = true;
    if (fields) {
      if (!quoted && c === EQ) {
        equals++;
        i++;
        continue;
      } else if (!quoted && c === COMMA) {
        commas++;
        i++;
        continue;
      } else if (c === QUOTE && equals > commas) {
        quoted = !quoted;
        i++;
        continue;
      }
    }
    if (c === NL) {
      if (!quoted) break;
      hidden++;
    }
    i++;
  }
  return { end: i, hidden };
}

const AUTO_SPECS = {
  s: precisionSpec("s"),
  ms: precisionSpec("ms"),
  us: precisionSpec("us"),
  ns: precisionSpec("ns"),
};

/**
 * `precision=auto`: the unit of the digits `buf[start, end)` by their magnitude, as the native
 * JSON API reads numbers (< 1e11 seconds, < 1e14 milliseconds, < 1e17 microseconds, else
 * nanoseconds): by the count of significant digits, so no number is built.
 */
function autoSpec(buf: Uint8Array, start: number, end: number): PrecisionSpec {
  while (start < end - 1 && buf[start] === ZERO) start++;
  const digits = end - start;
  return digits <= 11
    ? AUTO_SPECS.s
    : digits <= 14
    ? AUTO_SPECS.ms
    : digits <= 17
    ? AUTO_SPECS.us
    : AUTO_SPECS.ns;
}

function isWhitespace(c: number): boolean {
  return c === SPACE || c === TAB || c === 0;
}

/** The parsing state of one body (or one stream). */
class Parser {
  points: Point[] = [];
  lines: number[] = [];
  errors: LineError[] = [];

  private buf: Uint8Array = new Uint8Array(0);
  private readonly spec: PrecisionSpec;
  /** `precision=auto`: the spec of each timestamp follows its number of digits. */
  private readonly auto: boolean;
  private readonly defaultMs: number;
  private readonly defaultSubMs: number;
  private readonly precision: Precision;
  /** The request's time (`defaultTime`), which out-of-range hints compare against. */
  private readonly nowMs: number;
  private readonly cache: LineProtocolCache;
  private readonly textLimit: number;
  /** 1-based number of the physical line the next record starts on. */
  private line = 1;
  /** Counts records, to stamp field keys seen in the current one. */
  private serial = 0;
  /** The series of the last line whose key parsed: its follower is the next line's guess. */
  private lastKey: KeyEntry | undefined = undefined;

  // Outcome of a failed record.
  private errReason = "";
  private errPos = 0;
  private errField: string | undefined = undefined;
  /** Scratch for a line's field keys and types, before they become a shared layout. */
  private readonly layoutKeys: string[] = [];
  private readonly layoutTypes: FieldType[] = [];

  // Outcome of parseKey / parseValue.
  private keyMeasurement = "";
  private keyTags: Tag[] = [];
  private valueType: FieldType = FieldType.Float;
  private valueValue: number | bigint | string | boolean = 0;

  private readonly time: MutableInstant = { ms: 0, subMs: 0 };
  private scratch = new Uint8Array(256);
  /**
   * The body decoded one byte per UTF-16 unit, made on first need: slicing it is the
   * cheapest way to turn ASCII bytes into a string (5x cheaper than String.fromCharCode).
   */
  private latin1: string | undefined = undefined;

  constructor(options: LineProtocolOptions) {
    this.auto = options.precision === "auto";
    this.precision = options.precision === undefined || options.precision === "auto"
      ? "ns"
      : options.precision;
    this.spec = precisionSpec(this.precision);
    this.nowMs = options.defaultTime.ms;
    const t = truncateInstant(options.defaultTime, this.spec);
    this.defaultMs = t.ms;
    this.defaultSubMs = t.subMs;
    this.cache = options.cache ?? new LineProtocolCache();
    this.textLimit = options.errorTextLimit ?? 200;
  }

  /** The 1-based number of the physical line the next record starts on. */
  get nextLine(): number {
    return this.line;
  }

  /** Hands over the points and errors decoded so far. */
  take(): LineProtocolResult {
    const out = { points: this.points, lines: this.lines, errors: this.errors };
    this.points = [];
    this.lines = [];
    this.errors = [];
    return out;
  }

  /**
   * Decodes the records of `buf`. Unless `final`, a last record without its newline is left
   * alone. Returns the number of bytes consumed.
   */
  run(buf: Uint8Array, final: boolean): number {
    this.buf = buf;
    this.latin1 = undefined;
    const len = buf.length;
    const splitter = new LineSplitter(buf);
    let pos = 0;
    while (pos < len) {
      const end = splitter.endOf(pos);
      let k = pos;
      while (k < end && isWhitespace(buf[k])) k++;
      if (end >= len && !final) break;
      let lineEnd = end;
      if (lineEnd > k && buf[lineEnd - 1] === NL) lineEnd--; // an escaped newline at the end
      if (lineEnd > k && buf[lineEnd - 1] === CR) lineEnd--;
      if (k < lineEnd && buf[k] !== HASH) this.record(pos, k, lineEnd);
      this.line += 1 + splitter.hidden;
      pos = end + 1;
    }
    this.buf = new Uint8Array(0);
    this.latin1 = undefined;
    return pos < len ? pos : len;
  }

  private record(lineStart: number, start: number, end: number): void {
    this.cache.trimFieldKeys();
    this.serial = this.cache.nextRecordSerial();
    const point = this.parsePoint(start, end);
    if (point !== undefined) {
      this.points.push(point);
      this.lines.push(this.line);
      return;
    }
    const error: LineError = {
      line: this.line,
      column: this.errPos - lineStart + 1,
      reason: this.errReason,
      text: excerpt(this.buf, start, end, this.textLimit),
    };
    if (this.errField !== undefined) error.field = this.errField;
    this.errors.push(error);
  }

  private fail(reason: string, pos: number, field?: string): undefined {
    this.errReason = reason;
    this.errPos = pos;
    this.errField = field;
    return undefined;
  }

  private bad(reason: string, pos: number, field?: string): -1 {
    this.fail(reason, pos, field);
    return -1;
  }

  private parsePoint(start: number, end: number): Point | undefined {
    const buf = this.buf;
    const cache = this.cache;

    // Clients send series in a steady order (a collector walks its hosts the same way every
    // interval): the series that followed the last line's series last time is tried first.
    const last = this.lastKey;
    let entry = last?.follower;
    let j: number;
    if (entry !== undefined && cache.matchKey(entry, buf, start, end)) j = start + entry.length;
    else {
      // The series key runs to the first space not preceded by a backslash. Hash it on the
      // way: a key seen before needs no further work.
      let hash = FNV_OFFSET, prev = 0, bits = 0;
      j = start;
      while (j < end) {
        const c = buf[j];
        if (c === SPACE && prev !== BACKSLASH) break;
        hash = Math.imul(hash ^ c, FNV_PRIME);
        bits |= c;
        prev = c;
        j++;
      }
      hash &= HASH_MASK;
      entry = j < end ? cache.findKey(hash, buf, start, j) : undefined;
      if (entry === undefined) {
        // Before parsing it: a key past the limit costs one scan, not a sort of its tags.
        if (j - start > MAX_KEY_LENGTH) {
          return this.fail(`max key length exceeded: ${j - start} > ${MAX_KEY_LENGTH}`, start);
        }
        const keyEnd = this.parseKey(start, end, bits < 0x80);
        if (keyEnd < 0) return undefined;
        if (keyEnd !== j) throw new Error(`BUG: series key ends at ${keyEnd}, expected ${j}`);
        const measurement = this.keyMeasurement;
        entry = cache.addKey(
          hash,
          buf,
          start,
          j,
          measurement,
          Object.freeze(this.keyTags.slice()),
          last !== undefined && last.measurement === measurement ? last.fieldKeys : [],
        );
      }
      if (last !== undefined) last.follower = entry;
    }
    // Kept even if the rest of the line fails: the next line likely follows this series.
    this.lastKey = entry;
    const keyLength = j - start;
    const measurement = entry.measurement;
    // Every point of the series shares the entry's frozen array (Point.tags is read-only): an
    // array per point was 128 of the ~1 KB a decoded line kept on the heap.
    const tags = entry.tags;
    const guesses = entry.fieldKeys;
    let fieldIndex = 0;

    // Fields.
    let i = j;
    while (i < end && isWhitespace(buf[i])) i++;
    if (i >= end) return this.fail("invalid field format", i);
    // Sized as the series' last line: a growing array reallocates its store on the way.
    // Keys and types go to scratch arrays and become a shared layout; only the values are the
    // point's own (an object per field was two thirds of a decoded line's heap).
    const keys = this.layoutKeys, types = this.layoutTypes;
    const values: FieldValue[] = new Array(guesses.length);
    let fieldCount = 0;
    const serial = this.serial;
    for (;;) {
      const ks = i;
      let keyEntry = guesses[fieldIndex];
      if (keyEntry !== undefined && cache.matchFieldKey(keyEntry, buf, ks, end)) {
        i = ks + keyEntry.length;
      } else {
        let fhash = FNV_OFFSET, fbits = 0, escaped = false;
        for (;;) {
          if (i >= end) return this.fail("invalid field format", i);
          const c = buf[i];
          if (c === BACKSLASH && i + 1 < end) {
            const d = buf[i + 1];
            fhash = Math.imul(Math.imul(fhash ^ c, FNV_PRIME) ^ d, FNV_PRIME);
            fbits |= d;
            escaped = true;
            i += 2;
            continue;
          }
          if (c === EQ) break;
          if (c === SPACE || c === COMMA) return this.fail("invalid field format", i);
          fhash = Math.imul(fhash ^ c, FNV_PRIME);
          fbits |= c;
          i++;
        }
        if (i === ks) return this.fail("missing field key", i);
        fhash &= HASH_MASK;
        keyEntry = cache.findFieldKey(fhash, buf, ks, i);
        if (keyEntry === undefined) {
          const key = this.decodeName(ks, i, escaped, fbits < 0x80, FIELD_KEY_ESCAPES);
          if (key === undefined) return this.fail("invalid UTF-8 in field key", ks);
          keyEntry = cache.addFieldKey(fhash, buf, ks, i, key);
        }
        guesses[fieldIndex] = keyEntry;
      }
      fieldIndex++;
      const seriesSize = keyLength + 4 + (i - ks);
      if (seriesSize > MAX_KEY_LENGTH) {
        return this.fail(`max key length exceeded: ${seriesSize} > ${MAX_KEY_LENGTH}`, ks);
      }
      const key = keyEntry.key;

      const vs = i + 1;
      if (vs >= end || buf[vs] === COMMA || buf[vs] === SPACE) {
        return this.fail("missing field value", vs, key);
      }
      i = this.parseValue(vs, end, key);
      if (i < 0) return undefined;

      const type = this.valueType, value = this.valueValue;
      const use = keyEntry.use;
      if (use.serial === serial) {
        // The same field twice in one line: the last value wins, as in InfluxDB.
        if (types[use.slot] !== type) {
          return this.fail(
            `field type conflict: field "${key}" appears twice in the line with different types`,
            ks,
            key,
          );
        }
        values[use.slot] = value;
      } else {
        use.serial = serial;
        use.slot = fieldCount;
        keys[fieldCount] = key;
        types[fieldCount] = type;
        values[fieldCount++] = value;
      }

      if (i >= end || buf[i] === SPACE) break;
      if (buf[i] !== COMMA) {
        // Only a string value can end on another byte: `"a""` is an unbalanced quote (as in
        // InfluxDB), `"a"b` is garbage after the closing quote.
        if (buf[i] === QUOTE) return this.fail("unbalanced quotes", vs, key);
        return this.fail("invalid field format", i, key);
      }
      i++;
      if (i >= end || buf[i] === SPACE) return this.fail("invalid field format", i);
    }

    // Optional timestamp.
    while (i < end && isWhitespace(buf[i])) i++;
    let timeMs = this.defaultMs, timeSubMs = this.defaultSubMs;
    if (i < end) {
      const ts = i;
      const negative = buf[i] === MINUS;
      if (negative) i++;
      const ds = i;
      for (; i < end; i++) {
        const c = buf[i];
        if (c === SPACE) break;
        if (c < ZERO || c > NINE) return this.fail("bad timestamp", i);
      }
      if (i === ds) return this.fail("bad timestamp", ts);
      const spec = this.auto ? autoSpec(buf, ds, i) : this.spec;
      if (!instantFromDigits(buf, ds, i, negative, spec, this.time)) {
        return this.fail(this.rangeReason(buf, ds, i, negative), ts);
      }
      for (; i < end; i++) if (buf[i] !== SPACE) return this.fail("point is invalid", i);
      timeMs = this.time.ms;
      timeSubMs = this.time.subMs;
    }
    if (fieldCount !== values.length) values.length = fieldCount;
    let layout = entry.layout;
    if (layout === undefined || !sameLayout(layout, keys, types, fieldCount)) {
      entry.layout = layout = cache.layouts.find(keys, types, fieldCount);
    }
    return new PackedPoint(measurement, tags, layout, values, { ms: timeMs, subMs: timeSubMs });
  }

  /** InfluxDB's out-of-range reason, with a hint when the digits suggest another precision. */
  private rangeReason(buf: Uint8Array, start: number, end: number, negative: boolean): string {
    let value = 0;
    for (let k = start; k < end; k++) value = value * 10 + (buf[k] - ZERO);
    const hint = this.auto
      ? undefined
      : precisionHint(negative ? -value : value, this.precision, this.nowMs);
    return hint === undefined
      ? TIME_RANGE_REASON
      : `${TIME_RANGE_REASON}; ${precisionHintText(hint)}`;
  }

  /**
   * Parses measurement and tags from `start` (InfluxDB's scanMeasurement, scanTagsKey and
   * scanTagsValue). Sets keyMeasurement and keyTags (sorted, frozen) and returns the index of
   * the space that ends the key, or -1 after fail().
   */
  private parseKey(start: number, end: number, ascii: boolean): number {
    const buf = this.buf;
    if (buf[start] === COMMA) return this.bad("missing measurement", start);
    let i = start, escaped = buf[start] === BACKSLASH, inTags = false;
    for (;;) {
      i++;
      if (i >= end) return this.bad("missing fields", i);
      if (buf[i - 1] === BACKSLASH) {
        escaped = true;
        continue;
      }
      const c = buf[i];
      if (c === COMMA) {
        inTags = true;
        break;
      }
      if (c === SPACE) break;
    }
    const measurement = this.decodeName(start, i, escaped, ascii, MEASUREMENT_ESCAPES);
    if (measurement === undefined) return this.bad("invalid UTF-8 in measurement", start);

    const tags: Tag[] = [];
    /** The tag keys so far, once there are too many to compare one by one. */
    let keys: Set<string> | undefined;
    while (inTags) {
      const ks = i + 1;
      let c = buf[ks];
      if (ks >= end || c === SPACE || c === COMMA || c === EQ) {
        return this.bad("missing tag key", ks);
      }
      let k = ks, kEscaped = c === BACKSLASH;
      for (;;) {
        k++;
        if (k >= end) return this.bad("missing tag value", k);
        if (buf[k - 1] === BACKSLASH) {
          kEscaped = true;
          continue;
        }
        c = buf[k];
        if (c === SPACE || c === COMMA) return this.bad("missing tag value", k);
        if (c === EQ) break;
      }
      const vs = k + 1;
      c = buf[vs];
      if (vs >= end || c === COMMA || c === SPACE) return this.bad("missing tag value", vs);
      let v = vs, vEscaped = c === BACKSLASH;
      for (;;) {
        v++;
        if (v >= end) return this.bad("missing fields", v);
        if (buf[v - 1] === BACKSLASH) {
          vEscaped = true;
          continue;
        }
        c = buf[v];
        if (c === EQ) return this.bad("invalid tag format", v);
        if (c === COMMA) break;
        if (c === SPACE) {
          inTags = false;
          break;
        }
      }
      const key = this.decodeName(ks, k, kEscaped, ascii, TAG_ESCAPES);
      if (key === undefined) return this.bad("invalid UTF-8 in tag key", ks);
      const value = this.decodeName(vs, v, vEscaped, ascii, TAG_ESCAPES);
      if (value === undefined) return this.bad("invalid UTF-8 in tag value", vs);
      if (keys !== undefined) {
        if (keys.has(key)) return this.bad("duplicate tags", ks);
        keys.add(key);
      } else {
        for (const t of tags) {
          if (t.key === key) return this.bad("duplicate tags", ks);
        }
        if (tags.length >= SMALL_TAG_SET) keys = new Set([...tags.map((t) => t.key), key]);
      }
      // Frozen, as the series' tag array will be: seriesKey can then remember the key by the
      // array alone.
      tags.push(Object.freeze({ key: this.cache.intern(key), value: this.cache.intern(value) }));
      i = v;
    }
    if (tags.length <= SMALL_TAG_SET) {
      // Insertion sort: clients mostly send tags already sorted, which makes it one pass.
      for (let a = 1; a < tags.length; a++) {
        const t = tags[a];
        let b = a - 1;
        for (; b >= 0 && tags[b].key > t.key; b--) tags[b + 1] = tags[b];
        tags[b + 1] = t;
      }
    } else sortTags(tags); // n log n for a line of thousands of tags

    this.keyMeasurement = this.cache.intern(measurement);
    this.keyTags = tags;
    return i;
  }

  /**
   * Parses the field value at `vs` (InfluxDB's scanNumber, scanBoolean and the string rules).
   * Sets valueType and valueValue and returns the index after the value, or -1 after fail().
   */
  private parseValue(vs: number, end: number, key: string): number {
    const buf = this.buf;
    const c = buf[vs];
    if (c === QUOTE) {
      let p = vs + 1, bits = 0, escaped = false;
      for (;;) {
        if (p >= end) return this.bad("unbalanced quotes", vs, key);
        const b = buf[p];
        if (b === BACKSLASH && p + 1 < end) {
          bits |= buf[p + 1];
          escaped = true;
          p += 2;
          continue;
        }
        if (b === QUOTE) break;
        bits |= b;
        p++;
      }
      const text = this.decodeName(vs + 1, p, escaped, bits < 0x80, STRING_ESCAPES);
      if (text === undefined) return this.bad("invalid UTF-8 in string field", vs, key);
      this.valueType = FieldType.String;
      this.valueValue = text;
      return p + 1;
    }
    if ((c >= ZERO && c <= NINE) || c === DOT || c === MINUS || c === UPPER_N || c === LOWER_N) {
      return this.parseNumber(vs, end, key);
    }
    // Anything else must be a boolean.
    let p = vs;
    while (p < end && buf[p] !== COMMA && buf[p] !== SPACE) p++;
    const n = p - vs;
    let value: boolean | undefined;
    if (n === 1) {
      if (c === LOWER_T || c === UPPER_T) value = true;
      else if (c === LOWER_F || c === UPPER_F) value = false;
    } else if (n === 4) {
      // true, True, TRUE
      if (
        c === LOWER_T ? bytesAre(buf, vs + 1, "rue") : c === UPPER_T &&
          (bytesAre(buf, vs + 1, "rue") || bytesAre(buf, vs + 1, "RUE"))
      ) value = true;
    } else if (n === 5) {
      // false, False, FALSE
      if (
        c === LOWER_F ? bytesAre(buf, vs + 1, "alse") : c === UPPER_F &&
          (bytesAre(buf, vs + 1, "alse") || bytesAre(buf, vs + 1, "ALSE"))
      ) value = false;
    }
    if (value === undefined) {
      return this.bad(this.nonFinite(vs, end, key) ?? "invalid boolean", vs, key);
    }
    this.valueType = FieldType.Boolean;
    this.valueValue = value;
    return p;
  }

  private parseNumber(vs: number, end: number, key: string): number {
    const buf = this.buf;
    let p = vs;
    const negative = buf[p] === MINUS;
    if (negative) {
      p++;
      if (p >= end) return this.bad("invalid number", vs, key);
    }
    const ds = p;
    let isInt = false, isUnsigned = false, decimal = false, scientific = false;
    let mantissa = 0, fraction = 0;
    for (; p < end; p++) {
      const c = buf[p];
      if (c >= ZERO && c <= NINE) {
        mantissa = mantissa * 10 + (c - ZERO);
        if (decimal) fraction++;
        continue;
      }
      if (c === COMMA || c === SPACE) break;
      if ((c === LOWER_I || c === LOWER_U) && p > vs && !isInt && !isUnsigned) {
        if (c === LOWER_I) isInt = true;
        else isUnsigned = true;
        continue;
      }
      if (c === DOT) {
        if (decimal) return this.bad("invalid number", vs, key);
        decimal = true;
        continue;
      }
      if (p > vs && (c === LOWER_E || c === UPPER_E)) {
        scientific = true;
        continue;
      }
      const before = buf[p - 1];
      if ((c === PLUS || c === MINUS) && (before === LOWER_E || before === UPPER_E)) continue;
      // Everything else, NaN and Inf included, is not a number.
      return this.bad(this.nonFinite(vs, end, key) ?? "invalid number", vs, key);
    }
    if ((isInt || isUnsigned) && (decimal || scientific)) {
      return this.bad("invalid number", vs, key);
    }
    const numericDigits = p - vs - (isInt ? 1 : 0) - (decimal ? 1 : 0) - (negative ? 1 : 0);
    if (numericDigits === 0) return this.bad("invalid number", vs, key);

    if (isInt || isUnsigned) {
      if (buf[p - 1] !== (isInt ? LOWER_I : LOWER_U)) {
        return this.bad("invalid number", vs, key);
      }
      if (isUnsigned && negative) return this.bad("invalid number", vs, key);
      this.valueType = isInt ? FieldType.Integer : FieldType.Unsigned;
      if (p - 1 - ds <= 15) {
        this.valueValue = negative && mantissa !== 0 ? -mantissa : mantissa;
        return p;
      }
      const text = this.token(vs, p - 1);
      const big = BigInt(text);
      if (isInt ? big < INT64_MIN || big > INT64_MAX : big > UINT64_MAX) {
        const [what, fn] = isInt ? ["integer", "ParseInt"] : ["unsigned", "ParseUint"];
        return this.bad(
          `unable to parse ${what} ${text}: strconv.${fn}: parsing "${text}": value out of range`,
          vs,
          key,
        );
      }
      this.valueValue = compactInteger(big);
      return p;
    }

    this.valueType = FieldType.Float;
    if (!scientific && mantissa <= Number.MAX_SAFE_INTEGER && fraction <= 22) {
      // Exact (Clinger's fast path): the digits form an integer below 2^53, so every step of
      // building it was exact, 10^fraction is an exact double, and one division rounds
      // correctly. Most 16- and 17-digit values (as JavaScript and Go print doubles) qualify.
      const x = fraction === 0 ? mantissa : mantissa / POW10[fraction];
      this.valueValue = negative ? -x : x;
      return p;
    }
    if (!scientific && fraction <= 22) {
      // Up to 19 digits: the last nine and the ones before, both exact, converted without a
      // string (see lp_decimal.ts); NaN when the result is too close to call.
      let high = 0, low = 0, scale = 1, count = 0;
      for (let k = p - 1; k >= ds; k--) {
        const c = buf[k];
        if (c === DOT) continue;
        if (count === 9) scale = 1;
        if (count < 9) low += (c - ZERO) * scale;
        else high += (c - ZERO) * scale;
        scale *= 10;
        count++;
      }
      if (high < 1e10) {
        const x = decimalToDouble(high, low, fraction);
        if (x === x) {
          this.valueValue = negative ? -x : x;
          return p;
        }
      }
    }
    const x = Number(this.token(vs, p));
    if (!Number.isFinite(x)) return this.bad("invalid float", vs, key);
    this.valueValue = x;
    return p;
  }

  /**
   * The reason for a value that spells NaN or an infinity (`Inf`, `-inf`, `+Infinity`, `NaN`
   * ...), which InfluxDB calls an invalid boolean or number: say what it is.
   */
  private nonFinite(vs: number, end: number, key: string): string | undefined {
    const buf = this.buf;
    let p = vs;
    while (p < end && p - vs <= 9 && buf[p] !== COMMA && buf[p] !== SPACE) p++;
    const word = this.token(vs, p);
    if (!NON_FINITE.test(word)) return undefined;
    return `invalid number: field "${key}" is ${word}, and only finite numbers can be stored`;
  }

  /** The ASCII bytes `[start, end)` as a short-lived string (a number to convert). */
  private token(start: number, end: number): string {
    this.latin1 ??= LATIN1.decode(this.buf);
    return this.latin1.slice(start, end);
  }

  /**
   * The ASCII bytes `[start, end)` as a string that may live on (a name or a string value).
   * A slice of the body string would keep the whole body alive; concatenating and slicing
   * again makes V8 copy it into a string of its own.
   */
  private text(start: number, end: number): string {
    const s = this.token(start, end);
    return s.length < 13 ? s : (" " + s).slice(1);
  }

  /** Decodes a name or string, undoing the escapes in `table`; undefined on bad UTF-8. */
  private decodeName(
    start: number,
    end: number,
    escaped: boolean,
    ascii: boolean,
    table: Uint8Array,
  ): string | undefined {
    const buf = this.buf;
    if (!escaped) return ascii ? this.text(start, end) : decodeRange(buf, start, end, false);
    if (this.scratch.length < end - start) this.scratch = new Uint8Array((end - start) * 2);
    const out = this.scratch;
    let n = 0;
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (c === BACKSLASH && i + 1 < end && table[buf[i + 1]] === 1) {
        out[n++] = buf[++i];
      } else {
        out[n++] = c;
      }
    }
    return decodeRange(out, 0, n, ascii);
  }
}

/** True when the bytes at `at` spell the ASCII `word`. */
function bytesAre(buf: Uint8Array, at: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (buf[at + k] !== word.charCodeAt(k)) return false;
  return true;
}
