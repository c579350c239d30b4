/**
 * Building blocks of the deterministic simulation: a seeded PRNG, an event queue ordered by
 * (virtual time, sequence), a trace hash, simulated durable storage with crash semantics, and
 * the KV command codec.
 * @module
 */

import type { Rng } from "../../src/core/mod.ts";
import type { Entry, HardState, Ready, Snapshot } from "../../src/raft/mod.ts";
import { EMPTY_HARD_STATE } from "../../src/raft/mod.ts";

/** sfc32: a fast seeded PRNG with a 128-bit state. Every random choice of a run comes from one. */
export class Prng implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("BUG: pick from an empty list");
    return items[Math.floor(this.next() * items.length)];
  }

  /** A child generator (for a node's election jitter) derived from this one. */
  fork(): Prng {
    return new Prng(this.nextU32());
  }
}

/** One scheduled event. `seq` breaks ties so that the order is total and reproducible. */
export interface SimEvent {
  time: number;
  seq: number;
  run: () => void;
}

/** A binary min-heap of events by (time, seq). */
export class EventQueue {
  private heap: SimEvent[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(time: number, run: () => void): void {
    const ev = { time, seq: this.seq++, run };
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p], ev)) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = ev;
  }

  peekTime(): number {
    return this.heap.length > 0 ? this.heap[0].time : Infinity;
  }

  pop(): SimEvent | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(h[r], h[l]) ? r : l;
        if (less(last, h[c])) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

function less(a: SimEvent, b: SimEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/** A 64-bit (two 32-bit lanes) FNV-style rolling hash of trace events. */
export class TraceHash {
  private h1 = 0x811c9dc5;
  private h2 = 0x01000193;

  mix(value: number): void {
    const lo = value >>> 0;
    const hi = Math.floor(value / 4294967296) >>> 0;
    this.h1 = Math.imul(this.h1 ^ lo, 0x01000193) >>> 0;
    this.h2 = Math.imul(this.h2 ^ hi ^ lo ^ (this.h1 >>> 7), 0x5bd1e995) >>> 0;
  }

  mixString(s: string): void {
    for (let i = 0; i < s.length; i++) this.mix(s.charCodeAt(i));
  }

  hex(): string {
    return this.h1.toString(16).padStart(8, "0") + this.h2.toString(16).padStart(8, "0");
  }
}

type StorageOp =
  | { kind: "snap"; snapshot: Snapshot }
  | { kind: "entries"; entries: Entry[] }
  | { kind: "hard"; hardState: HardState };

/**
 * A node's disk: what is durable (survives a crash) and what was written but not yet synced.
 * A crash keeps a random prefix of the unsynced writes and may tear the last entry batch (the
 * torn tail is cut on restart, as the real log storage does).
 */
export class SimStorage {
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  private pending: StorageOp[] = [];

  /** Writes a Ready's state (not yet durable). */
  write(rd: Ready): void {
    if (rd.snapshot) this.pending.push({ kind: "snap", snapshot: rd.snapshot });
    if (rd.entries.length > 0) this.pending.push({ kind: "entries", entries: rd.entries });
    if (rd.hardState) this.pending.push({ kind: "hard", hardState: rd.hardState });
  }

  /** fsync: everything written becomes durable. */
  sync(): void {
    for (const op of this.pending) this.apply(op);
    this.pending = [];
  }

  /** A crash: a prefix of the unsynced writes survives, the next one may be torn. */
  crash(rng: Prng): { lostOps: number; tornEntries: number } {
    const keep = rng.int(0, this.pending.length);
    let torn = 0;
    for (let i = 0; i < keep; i++) this.apply(this.pending[i]);
    const next = this.pending[keep];
    if (next && next.kind === "entries" && next.entries.length > 0) {
      const n = rng.int(0, next.entries.length - 1);
      torn = next.entries.length - n;
      if (n > 0) this.apply({ kind: "entries", entries: next.entries.slice(0, n) });
    }
    const lost = this.pending.length - keep;
    this.pending = [];
    return { lostOps: lost, tornEntries: torn };
  }

  /** Saves a locally taken snapshot (atomically and durably) and drops entries up to `compactTo`. */
  saveSnapshot(snapshot: Snapshot, compactTo: number): void {
    if (!this.snapshot || this.snapshot.metadata.index < snapshot.metadata.index) {
      this.snapshot = snapshot;
    }
    this.entries = this.entries.filter((e) => e.index > compactTo);
  }

  private apply(op: StorageOp): void {
    switch (op.kind) {
      case "snap":
        this.snapshot = op.snapshot;
        this.entries = [];
        break;
      case "entries": {
        const first = op.entries[0].index;
        const last = this.entries.length > 0
          ? this.entries[this.entries.length - 1].index
          : (this.snapshot?.metadata.index ?? 0);
        if (first > last + 1) {
          throw new Error(`BUG: sim storage: gap before ${first} (last ${last})`);
        }
        let k = this.entries.length;
        while (k > 0 && this.entries[k - 1].index >= first) k--;
        this.entries.length = k;
        for (const e of op.entries) this.entries.push(e);
        break;
      }
      case "hard":
        this.hardState = op.hardState;
        break;
    }
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A KV command in an entry: `P<opId>\x00<key>\x00<value>`. */
export function encodePut(opId: number, key: string, value: string): Uint8Array {
  return encoder.encode(`P${opId}\x00${key}\x00${value}`);
}

/** Decodes a KV command; null for the leader's empty entries. */
export function decodePut(
  data: Uint8Array,
): { opId: number; key: string; value: string } | null {
  if (data.length === 0) return null;
  const [id, key, value] = decoder.decode(data).split("\x00");
  return { opId: Number(id.slice(1)), key, value };
}

/** The KV map as snapshot bytes. */
export function encodeKv(kv: Map<string, string>): Uint8Array {
  return encoder.encode(JSON.stringify([...kv]));
}

/** Snapshot bytes back to a KV map. */
export function decodeKv(data: Uint8Array): Map<string, string> {
  return data.length === 0 ? new Map() : new Map(JSON.parse(decoder.decode(data)));
}
