/**
 * JSON for values that plain JSON loses, between nodes: query plans' inputs (statements with
 * int64 literals and durations) and partial results (aggregate states with NaN, ±Infinity, -0,
 * `undefined`, bigints, Maps, Sets and typed arrays). A special value is an object with one key
 * that starts with NUL. User data can make such an object too (a GROUP BY tag key `\0n` gives
 * the tags object `{"\0n": "5"}`), so a plain object of that shape travels as its entries
 * (`{"\0o": [[key, value]]}`) and is never read as a special value.
 * @module
 */
import { ParseError } from "../core/errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const BIGINT = "\u0000n";
const NUMBER = "\u0000f";
const UNDEFINED = "\u0000u";
const MAP = "\u0000m";
const SET = "\u0000s";
const F64 = "\u0000d";
const I64 = "\u0000i";
const U8 = "\u0000b";
const OBJECT = "\u0000o";

/** True for a plain object whose only key starts with NUL (it would read as a special value). */
function looksSpecial(value: object): boolean {
  let first: string | undefined;
  for (const key in value) {
    if (first !== undefined) return false;
    first = key;
  }
  return first !== undefined && first.charCodeAt(0) === 0;
}

function replacer(this: unknown, _key: string, value: unknown): unknown {
  switch (typeof value) {
    case "bigint":
      return { [BIGINT]: value.toString() };
    case "number":
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return { [NUMBER]: Object.is(value, -0) ? "-0" : String(value) };
    case "undefined":
      return { [UNDEFINED]: 1 };
    case "object":
      if (value instanceof Map) return { [MAP]: [...value] };
      if (value instanceof Set) return { [SET]: [...value] };
      if (value instanceof Float64Array) return { [F64]: [...value] };
      if (value instanceof BigInt64Array) return { [I64]: [...value] };
      if (value instanceof Uint8Array) return { [U8]: [...value] };
      if (value !== null && !Array.isArray(value) && looksSpecial(value)) {
        return { [OBJECT]: Object.entries(value) };
      }
      return value;
    default:
      return value;
  }
}

function reviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0].charCodeAt(0) !== 0) return value;
  const v = (value as Record<string, unknown>)[keys[0]];
  switch (keys[0]) {
    case BIGINT:
      return BigInt(v as string);
    case NUMBER:
      return v === "-0" ? -0 : Number(v);
    case UNDEFINED:
      return undefined;
    case MAP:
      return new Map(v as [unknown, unknown][]);
    case SET:
      return new Set(v as unknown[]);
    case F64:
      return Float64Array.from(v as number[]);
    case I64:
      return BigInt64Array.from(v as bigint[]);
    case U8:
      return Uint8Array.from(v as number[]);
    case OBJECT:
      return Object.fromEntries(v as [string, unknown][]);
    default:
      return value;
  }
}

/**
 * Encodes a value as UTF-8 JSON with its special values kept.
 * @example
 * ```ts
 * decodeWire(encodeWire({ n: 1n, x: NaN })); // { n: 1n, x: NaN }
 * ```
 */
export function encodeWire(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value, replacer));
}

/**
 * Decodes what {@linkcode encodeWire} made.
 * @throws {ParseError} for bytes that are not (a peer sent damage, or another protocol).
 */
export function decodeWire<T>(bytes: Uint8Array): T {
  try {
    return JSON.parse(decoder.decode(bytes), reviver) as T;
  } catch (error) {
    throw new ParseError(`malformed wire JSON from a peer: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
