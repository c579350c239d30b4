/**
 * One Select call per partition instead of one per partition and shard group: the executor asks
 * every shard group for its part in the same turn (it runs them all at once), so the parts one
 * partition is asked for in a turn are gathered and sent together (`PeerClient.selectShards`),
 * and each caller gets its own group's partials. A 6-hour query over 6 partitions and 6 hourly
 * groups makes 6 calls, not 36.
 * @module
 */
import { EpochError } from "../core/mod.ts";
import type { SelectShard } from "../cluster/mod.ts";
import type { PlanRequest, QueryLimits, SeriesPartial } from "../query/mod.ts";

/** A group's part waiting for its turn's call. */
interface Waiting {
  shard: SelectShard;
  request: PlanRequest;
  limits: QueryLimits | undefined;
  resolve: (partials: SeriesPartial[]) => void;
  reject: (error: unknown) => void;
}

type One = (
  shard: SelectShard,
  request: PlanRequest,
  limits: QueryLimits | undefined,
) => Promise<SeriesPartial[]>;

type Many = (
  shards: SelectShard[],
  request: PlanRequest,
  limits: QueryLimits | undefined,
) => Promise<SeriesPartial[][]>;

/** The batched Select parts of one partition. */
export class ShardBatches {
  #waiting: Waiting[] = [];
  /** Set once a node answered that it cannot batch: every part is then asked on its own. */
  #unbatched = false;

  constructor(private readonly one: One, private readonly many: Many) {}

  /** The partials of one shard group's part, sent with the others asked for in this turn. */
  select(
    shard: SelectShard,
    request: PlanRequest,
    limits: QueryLimits | undefined,
  ): Promise<SeriesPartial[]> {
    if (this.#unbatched) return this.one(shard, request, limits);
    return new Promise((resolve, reject) => {
      if (this.#waiting.length === 0) queueMicrotask(() => this.#flush());
      this.#waiting.push({ shard, request, limits, resolve, reject });
    });
  }

  #flush(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    // Parts of the same statement share its request and limits (a subquery has its own).
    const byRequest = new Map<PlanRequest, Map<QueryLimits | undefined, Waiting[]>>();
    for (const w of waiting) {
      let byLimits = byRequest.get(w.request);
      if (!byLimits) byRequest.set(w.request, byLimits = new Map());
      const list = byLimits.get(w.limits);
      if (list) list.push(w);
      else byLimits.set(w.limits, [w]);
    }
    for (const byLimits of byRequest.values()) {
      for (const list of byLimits.values()) void this.#send(list);
    }
  }

  async #send(list: Waiting[]): Promise<void> {
    const { request, limits } = list[0];
    if (list.length === 1) {
      const [w] = list;
      await this.one(w.shard, request, limits).then(w.resolve, w.reject);
      return;
    }
    try {
      const answers = await this.many(list.map((w) => w.shard), request, limits);
      for (const [i, w] of list.entries()) w.resolve(answers[i] ?? []);
    } catch (error) {
      if (!(error instanceof EpochError && error.code === "unimplemented")) {
        for (const w of list) w.reject(error);
        return;
      }
      // A node older than batching: ask group by group from now on.
      this.#unbatched = true;
      await Promise.all(
        list.map((w) => this.one(w.shard, request, limits).then(w.resolve, w.reject)),
      );
    }
  }
}
