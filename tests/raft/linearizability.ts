/**
 * A linearizability checker for client histories: the Wing–Gong algorithm with Lowe's
 * memoisation (as in anishathalye/porcupine), with P-compositionality: a history is
 * linearizable iff each per-key sub-history is, so each key is checked alone.
 *
 * An operation whose outcome is unknown (timed out, node crashed) has `ret = Infinity` and
 * `output = undefined`: it may take effect at any point after its call, or never.
 *
 * @module
 */

/** One client operation. `call` and `ret` are times (ret Infinity when the outcome is unknown). */
export interface Operation<I, O> {
  clientId: number;
  input: I;
  output: O | undefined;
  call: number;
  ret: number;
}

/** A sequential specification. `step` returns the next state, or undefined if impossible. */
export interface Model<S, I, O> {
  init(): S;
  /** The partition key of an operation (P-compositionality); one partition if omitted. */
  partition?(input: I): string;
  /** `output` is undefined for an operation whose outcome is unknown. */
  step(state: S, input: I, output: O | undefined): S | undefined;
  /** A key for memoising states (strings or numbers compare by value). */
  stateKey(state: S): string | number | null;
}

/** The verdict for a history. */
export interface CheckResult {
  ok: boolean;
  /** The partition that failed (when not ok). */
  failedPartition?: string;
  /** Operations in the failed partition (when not ok). */
  failedOps?: number;
  /** True when the search gave up (budget exhausted): the verdict is then "unknown". */
  timedOut: boolean;
}

interface Node {
  id: number;
  isCall: boolean;
  time: number;
  input: unknown;
  output: unknown;
  match: Node | null; // the return entry, for a call
  prev: Node | null;
  next: Node | null;
}

/**
 * Checks `history` against `model`.
 * @param budget the maximum number of search steps per partition before giving up.
 */
export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  budget = 5_000_000,
): CheckResult {
  const parts = new Map<string, Operation<I, O>[]>();
  for (const op of history) {
    const key = model.partition ? model.partition(op.input) : "";
    let list = parts.get(key);
    if (!list) parts.set(key, list = []);
    list.push(op);
  }
  let timedOut = false;
  for (const [key, ops] of [...parts].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const r = checkPartition(model, ops, budget);
    if (r === "timeout") timedOut = true;
    else if (!r) return { ok: false, failedPartition: key, failedOps: ops.length, timedOut: false };
  }
  return { ok: true, timedOut };
}

function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  budget: number,
): boolean | "timeout" {
  const n = ops.length;
  if (n === 0) return true;
  // Events sorted by time; at equal times calls come first (treated as concurrent).
  const events: { time: number; isCall: boolean; op: number }[] = [];
  for (let i = 0; i < n; i++) {
    const op = ops[i];
    if (!(op.ret >= op.call)) throw new Error(`BUG: operation ${i} returns before its call`);
    events.push({ time: op.call, isCall: true, op: i }, { time: op.ret, isCall: false, op: i });
  }
  events.sort((a, b) => {
    if (a.time !== b.time) return a.time < b.time ? -1 : 1;
    if (a.isCall !== b.isCall) return a.isCall ? -1 : 1;
    return a.op - b.op;
  });
  const head: Node = {
    id: -1,
    isCall: false,
    time: -Infinity,
    input: null,
    output: null,
    match: null,
    prev: null,
    next: null,
  };
  const returns = new Array<Node>(n);
  let last = head;
  const callNodes: Node[] = [];
  for (const ev of events) {
    const op = ops[ev.op];
    const node: Node = {
      id: ev.op,
      isCall: ev.isCall,
      time: ev.time,
      input: op.input,
      output: op.output,
      match: null,
      prev: last,
      next: null,
    };
    last.next = node;
    last = node;
    if (ev.isCall) callNodes[ev.op] = node;
    else returns[ev.op] = node;
  }
  for (let i = 0; i < n; i++) callNodes[i].match = returns[i];

  const lift = (call: Node) => {
    call.prev!.next = call.next;
    if (call.next) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (call: Node) => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next) call.next.prev = call;
  };

  // Linearized set as a bitset with an incremental 2x32-bit hash for the memo table.
  const words = new Uint32Array((n + 31) >>> 5);
  const salt1 = new Uint32Array(n);
  const salt2 = new Uint32Array(n);
  let seed = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6b43a9b5) >>> 0;
    salt1[i] = seed;
    seed = (Math.imul(seed ^ (seed >>> 13), 0x297a2d39) + 0x1b873593) >>> 0;
    salt2[i] = seed;
  }
  let h1 = 0;
  let h2 = 0;
  const cache = new Map<string, Uint32Array[]>();
  const seen = (stateKey: string | number | null): boolean => {
    const key = `${h1}:${h2}:${stateKey}`;
    const list = cache.get(key);
    if (list) {
      for (const w of list) {
        let same = true;
        for (let i = 0; i < w.length; i++) {
          if (w[i] !== words[i]) {
            same = false;
            break;
          }
        }
        if (same) return true;
      }
      list.push(words.slice());
    } else {
      cache.set(key, [words.slice()]);
    }
    return false;
  };
  const flip = (id: number) => {
    words[id >>> 5] ^= 1 << (id & 31);
    h1 ^= salt1[id];
    h2 ^= salt2[id];
  };

  let state = model.init();
  const stack: { node: Node; state: S }[] = [];
  let entry = head.next;
  let steps = 0;
  while (head.next !== null) {
    if (++steps > budget) return "timeout";
    if (entry === null) throw new Error("BUG: linearizability search ran off the list");
    if (entry.isCall) {
      const next = model.step(state, entry.input as I, entry.output as O | undefined);
      if (next !== undefined) {
        flip(entry.id);
        if (!seen(model.stateKey(next))) {
          stack.push({ node: entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        flip(entry.id);
      }
      entry = entry.next;
    } else {
      // A return whose call is not linearized yet: backtrack.
      const top = stack.pop();
      if (!top) return false;
      state = top.state;
      flip(top.node.id);
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return true;
}

/** A key-value operation: put a value or get the current one. */
export type KvInput = { kind: "put"; key: string; value: string } | { kind: "get"; key: string };
/** Put answers "ok"; get answers the value (null when absent). */
export type KvOutput = string | null;

/** The sequential specification of a key-value register per key. */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  partition: (input) => input.key,
  step(state, input, output) {
    if (input.kind === "put") return input.value;
    if (output === undefined) return state; // unknown read: no constraint
    return output === state ? state : undefined;
  },
  stateKey: (state) => state,
};
