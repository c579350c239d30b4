/**
 * Password hashing: PBKDF2-HMAC-SHA256 through WebCrypto (no dependency), a 16-byte random salt
 * and 600,000 iterations by default (OWASP's figure for PBKDF2-SHA256 in 2023). The encoded
 * form names its algorithm and count, so a later count (or algorithm) verifies old hashes:
 *
 *     pbkdf2-sha256$<iterations>$<salt base64>$<32-byte hash base64>
 *
 * Comparison is constant-time in the hash length.
 * @module
 */
import { createHash } from "node:crypto";
import { ValidationError } from "../core/mod.ts";

/** OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256. */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000;
const SCHEME = "pbkdf2-sha256";
const SALT_BYTES = 16;
const HASH_BITS = 256;
/** InfluxDB refuses nothing shorter; a bound keeps the hash's input reasonable. */
const MAX_PASSWORD_BYTES = 4096;

const encoder = new TextEncoder();

/**
 * Hashes a password with a fresh salt.
 *
 * @example
 * ```ts
 * const encoded = await hashPassword("s3cret", { randomBytes, iterations: 1000 });
 * await verifyPassword("s3cret", encoded); // true
 * ```
 */
export async function hashPassword(
  password: string,
  options: { randomBytes: (n: number) => Uint8Array; iterations?: number },
): Promise<string> {
  const bytes = encoder.encode(password);
  if (bytes.length > MAX_PASSWORD_BYTES) {
    throw new ValidationError(`password longer than ${MAX_PASSWORD_BYTES} bytes`);
  }
  const iterations = options.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
  const salt = options.randomBytes(SALT_BYTES);
  const hash = await pbkdf2(bytes, salt, iterations);
  return `${SCHEME}$${iterations}$${toBase64(salt)}$${toBase64(hash)}`;
}

/** True when `password` matches the encoded hash (false for a malformed one). */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split("$");
  if (parts.length !== 4 || parts[0] !== SCHEME) return false;
  const iterations = Number(parts[1]);
  if (!Number.isSafeInteger(iterations) || iterations < 1) return false;
  const bytes = encoder.encode(password);
  if (bytes.length > MAX_PASSWORD_BYTES) return false;
  const expected = fromBase64(parts[3]);
  const actual = await pbkdf2(bytes, fromBase64(parts[2]), iterations);
  return constantTimeEqual(actual, expected);
}

/** Compares two byte strings in time that depends only on their lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a[i % (a.length || 1)] ?? 0) ^ (b[i % (b.length || 1)] ?? 0);
  return diff === 0;
}

async function pbkdf2(password: Uint8Array, salt: Uint8Array, iterations: number) {
  const key = await crypto.subtle.importKey(
    "raw",
    password as Uint8Array<ArrayBuffer>,
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as Uint8Array<ArrayBuffer>, iterations },
    key,
    HASH_BITS,
  );
  return new Uint8Array(bits);
}

/**
 * Hex SHA-256 (token digests, cache keys). Synchronous (node:crypto): every authenticated
 * request pays it, and WebCrypto's async digest costs a trip through a thread pool.
 */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return new Uint8Array(0);
  }
}
