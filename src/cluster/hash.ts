/**
 * The hash functions that place series in partitions. A database chooses one at creation and
 * keeps it (changing it would move every series):
 *
 * - `fnv1a64` (the default, as InfluxDB Enterprise places series): FNV-1a over the UTF-8 bytes,
 *   computed in 16-bit limbs so no BigInt is made per call;
 * - `xxhash64` (seed 0): better mixing for keys that differ only in their last bytes.
 *
 * What is hashed is the series key (measurement plus sorted tags, as line protocol escapes it),
 * or the measurement alone (`measurement`): then every series of a measurement lives in one
 * partition, so a query on one measurement touches one partition.
 *
 * @module
 */

/** A hash function a database may place its series with. */
export type PartitionHash = "fnv1a64" | "xxhash64";

/** What of a point the hash covers. */
export type PartitionKey = "series" | "measurement";

/** Every hash function by name. */
export const PARTITION_HASHES: readonly PartitionHash[] = ["fnv1a64", "xxhash64"];

const encoder = new TextEncoder();

/**
 * FNV-1a 64 of a string's UTF-8 bytes, as `[hi, lo]` 32-bit halves.
 * @example
 * ```ts
 * fnv1a64("a"); // [0xaf63dc4c, 0x8601ec8c]
 * ```
 */
export function fnv1a64(text: string): [number, number] {
  // 0xcbf29ce484222325 as four 16-bit limbs, low first.
  let h0 = 0x2325, h1 = 0x8422, h2 = 0x9ce4, h3 = 0xcbf2;
  const ascii = isAscii(text);
  const bytes = ascii ? undefined : encoder.encode(text);
  const n = ascii ? text.length : bytes!.length;
  for (let i = 0; i < n; i++) {
    const x0 = h0 ^ (ascii ? text.charCodeAt(i) : bytes![i]);
    // h *= 0x100000001b3, i.e. h * 0x1b3 + h * 2^40, modulo 2^64, limb by limb: h * 2^40 adds
    // limb 0 << 8 to limb 2 and limb 1 << 8 to limb 3.
    let carry = x0 * 0x1b3;
    h0 = carry & 0xffff;
    carry = h1 * 0x1b3 + (carry >>> 16);
    const x1 = h1;
    h1 = carry & 0xffff;
    carry = h2 * 0x1b3 + (x0 << 8) + (carry >>> 16);
    h2 = carry & 0xffff;
    carry = h3 * 0x1b3 + (x1 << 8) + (carry >>> 16);
    h3 = carry & 0xffff;
  }
  return [((h3 << 16) | h2) >>> 0, ((h1 << 16) | h0) >>> 0];
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

const M64 = (1n << 64n) - 1n;
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;

function rotl(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & M64;
}

function round(acc: bigint, lane: bigint): bigint {
  acc = (acc + lane * P2) & M64;
  return (rotl(acc, 31n) * P1) & M64;
}

function mergeRound(acc: bigint, v: bigint): bigint {
  acc ^= round(0n, v);
  return (acc * P1 + P4) & M64;
}

function u64At(b: Uint8Array, i: number): bigint {
  const lo = b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
  const hi = b[i + 4] | (b[i + 5] << 8) | (b[i + 6] << 16) | (b[i + 7] << 24);
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function u32At(b: Uint8Array, i: number): bigint {
  return BigInt((b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0);
}

/**
 * XXH64 (seed 0) of a string's UTF-8 bytes. BigInt arithmetic: callers hash a series once and
 * remember its partition, so this is not on a per-point path.
 * @example
 * ```ts
 * xxhash64(""); // 0xef46db3751d8e999n
 * ```
 */
export function xxhash64(text: string): bigint {
  const b = encoder.encode(text);
  const n = b.length;
  let i = 0;
  let h: bigint;
  if (n >= 32) {
    let v1 = (P1 + P2) & M64, v2 = P2, v3 = 0n, v4 = (M64 + 1n - P1) & M64;
    for (; i + 32 <= n; i += 32) {
      v1 = round(v1, u64At(b, i));
      v2 = round(v2, u64At(b, i + 8));
      v3 = round(v3, u64At(b, i + 16));
      v4 = round(v4, u64At(b, i + 24));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M64;
    h = mergeRound(h, v1);
    h = mergeRound(h, v2);
    h = mergeRound(h, v3);
    h = mergeRound(h, v4);
  } else {
    h = P5;
  }
  h = (h + BigInt(n)) & M64;
  for (; i + 8 <= n; i += 8) {
    h ^= round(0n, u64At(b, i));
    h = (rotl(h, 27n) * P1 + P4) & M64;
  }
  if (i + 4 <= n) {
    h ^= (u32At(b, i) * P1) & M64;
    h = (rotl(h, 23n) * P2 + P3) & M64;
    i += 4;
  }
  for (; i < n; i++) {
    h ^= (BigInt(b[i]) * P5) & M64;
    h = (rotl(h, 11n) * P1) & M64;
  }
  h ^= h >> 33n;
  h = (h * P2) & M64;
  h ^= h >> 29n;
  h = (h * P3) & M64;
  h ^= h >> 32n;
  return h;
}

/**
 * The partition (0 ≤ p < `partitions`) of a key under a hash function: the 64-bit hash modulo
 * the partition count, as an unsigned number.
 */
export function partitionOf(hash: PartitionHash, key: string, partitions: number): number {
  if (partitions === 1) return 0;
  if (hash === "fnv1a64") {
    const [hi, lo] = fnv1a64(key);
    // (hi * 2^32 + lo) mod p without BigInt: 2^32 mod p folds the high half in.
    return ((hi % partitions) * (0x100000000 % partitions) + (lo % partitions)) % partitions;
  }
  return Number(xxhash64(key) % BigInt(partitions));
}
