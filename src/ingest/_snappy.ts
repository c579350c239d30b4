/**
 * Snappy block decompression (the raw format remote_write uses, no framing), with every length
 * and offset checked against the input and the declared output. snappyjs 0.7 read a 4-byte
 * literal length as a signed int: a negative length moved its read position a billion bytes
 * back, and the loop walked forward from there (66 bytes cost 3 to 20 s of CPU).
 * @module
 */

/** The uncompressed length a snappy block declares (its leading varint), or -1. */
export function snappyLength(data: Uint8Array): number {
  let result = 0;
  for (let i = 0, shift = 0; i < data.length && shift < 35; i++, shift += 7) {
    const b = data[i];
    result += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return result;
  }
  return -1;
}

/**
 * Uncompresses `data` (its declared length must already be known to be acceptable).
 * @throws {Error} naming the first inconsistency (the caller turns it into a ParseError).
 */
export function snappyUncompressBlock(data: Uint8Array): Uint8Array {
  const length = snappyLength(data);
  if (length < 0) throw new Error("no valid length header");
  let pos = 0;
  while (data[pos] & 0x80) pos++;
  pos++;
  const out = new Uint8Array(length);
  let at = 0;
  // Each step consumes at least one input byte: bounded by data.length.
  while (pos < data.length) {
    const c = data[pos++];
    if ((c & 3) === 0) {
      let len = (c >>> 2) + 1;
      if (len > 60) {
        const bytes = len - 60;
        if (pos + bytes > data.length) throw new Error(`literal length cut short at ${pos}`);
        len = 0;
        for (let k = bytes - 1; k >= 0; k--) len = len * 256 + data[pos + k];
        len += 1;
        pos += bytes;
      }
      if (pos + len > data.length) throw new Error(`literal of ${len} bytes runs past the end`);
      if (at + len > length) throw new Error(`literal runs past the declared ${length} bytes`);
      // Short literals (most of them) by hand: a subarray per literal costs more than the copy.
      if (len < 32) { for (let k = 0; k < len; k++) out[at + k] = data[pos + k]; }
      else out.set(data.subarray(pos, pos + len), at);
      pos += len;
      at += len;
      continue;
    }
    let len: number, offset: number;
    if ((c & 3) === 1) {
      if (pos + 1 > data.length) throw new Error(`copy cut short at ${pos}`);
      len = ((c >>> 2) & 7) + 4;
      offset = ((c >>> 5) << 8) + data[pos];
      pos += 1;
    } else if ((c & 3) === 2) {
      if (pos + 2 > data.length) throw new Error(`copy cut short at ${pos}`);
      len = (c >>> 2) + 1;
      offset = data[pos] + data[pos + 1] * 256;
      pos += 2;
    } else {
      if (pos + 4 > data.length) throw new Error(`copy cut short at ${pos}`);
      len = (c >>> 2) + 1;
      offset = data[pos] + data[pos + 1] * 256 + data[pos + 2] * 65536 +
        data[pos + 3] * 16777216;
      pos += 4;
    }
    if (offset === 0 || offset > at) throw new Error(`copy offset ${offset} at output ${at}`);
    if (at + len > length) throw new Error(`copy runs past the declared ${length} bytes`);
    // Byte by byte: a copy may overlap its own output (offset < len repeats a pattern).
    for (let k = 0; k < len; k++, at++) out[at] = out[at - offset];
  }
  if (at !== length) throw new Error(`${at} bytes for a declared ${length}`);
  return out;
}

/**
 * Snappy block compression, literals only: a valid block every decoder reads, no smaller than
 * its input (remote_read answers are small next to the time it takes to find matches).
 */
export function snappyCompressBlock(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const CHUNK = 65536; // a literal's length fits the 2-byte form
  const chunks = Math.ceil(data.length / CHUNK);
  const out = new Uint8Array(5 + data.length + chunks * 3);
  let at = 0;
  for (let n = data.length;; n = Math.floor(n / 128)) {
    out[at++] = n >= 128 ? (n & 0x7f) | 0x80 : n;
    if (n < 128) break;
  }
  for (let pos = 0; pos < data.length; pos += CHUNK) {
    const len = Math.min(CHUNK, data.length - pos);
    if (len <= 60) out[at++] = (len - 1) << 2;
    else if (len <= 256) {
      out[at++] = 60 << 2;
      out[at++] = len - 1;
    } else {
      out[at++] = 61 << 2;
      out[at++] = (len - 1) & 0xff;
      out[at++] = (len - 1) >>> 8;
    }
    out.set(data.subarray(pos, pos + len), at);
    at += len;
  }
  return out.subarray(0, at);
}
