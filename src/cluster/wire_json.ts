/**
 * JSON for values that plain JSON loses, between nodes: query plans' inputs (statements with
 * int64 literals and durations) and partial results (aggregate states with NaN, ±Infinity, -0,
 * `undefined`, bigints, Maps, Sets and typed arrays). A special value is an object with one key
 * that starts with NUL, which no statement or state uses.
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const BIGINT = "\u0000n";
const NUMBER = "\u0000f";
const UNDEFINED = "\u0000u";
const MAP = "\u0000m";
const SET = "\u0000s";
const F64 = "\u0000d";
const I64 = "\u0000i";
const U8 = "\u0000b";

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

/** Decodes what {@linkcode encodeWire} made. */
export function decodeWire<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes), reviver) as T;
}
