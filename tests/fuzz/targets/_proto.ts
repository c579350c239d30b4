/**
 * A protobuf writer for the fuzzers: messages built field by field, so they can hold what a
 * generated encoder never writes (repeated singular fields, unknown fields, wrong wire types,
 * invalid UTF-8 in strings, 64-bit values at every edge).
 * @module
 */

/** Bytes of a message under construction. */
export class ProtoWriter {
  #bytes: number[] = [];

  /** A varint of up to 64 bits (negative numbers as two's complement, ten bytes). */
  varint(v: bigint | number): this {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.#bytes.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.#bytes.push(Number(x));
    return this;
  }

  key(field: number, wireType: number): this {
    return this.varint((field << 3) | wireType);
  }

  /** Field `field` as a varint (wire type 0). */
  int(field: number, v: bigint | number | boolean): this {
    return this.key(field, 0).varint(typeof v === "boolean" ? (v ? 1 : 0) : v);
  }

  /** Field `field` as a little-endian double (wire type 1). */
  double(field: number, v: number): this {
    const b = new Uint8Array(new Float64Array([v]).buffer);
    this.key(field, 1);
    for (const x of b) this.#bytes.push(x);
    return this;
  }

  /** Field `field` as length-delimited bytes, a string (UTF-8) or a message (wire type 2). */
  bytes(field: number, v: Uint8Array | string | ProtoWriter): this {
    const b = typeof v === "string"
      ? new TextEncoder().encode(v)
      : v instanceof ProtoWriter
      ? v.finish()
      : v;
    this.key(field, 2).varint(b.length);
    for (const x of b) this.#bytes.push(x);
    return this;
  }

  /** Raw bytes, as they are. */
  raw(b: Uint8Array | number[]): this {
    for (const x of b) this.#bytes.push(x);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}
