/**
 * A store of one database ("db", policy "autogen") over shard readers a bench builds itself,
 * so the bench measures the query engine, not a storage. A subclass pushes its shards into
 * `shardList`.
 */
import { MemoryStore } from "../src/query/_memory_store_test_helper.ts";
import type { QueryStore, ShardReader } from "../src/query/store.ts";

export class ShardsStore implements QueryStore {
  readonly #inner = new MemoryStore();
  protected readonly shardList: ShardReader[] = [];
  databases = () => ["db"];
  createDatabase = (n: string) => this.#inner.createDatabase(n);
  dropDatabase = (n: string) => this.#inner.dropDatabase(n);
  retentionPolicies = () => [{
    name: "autogen",
    durationNs: 0n,
    shardGroupDurationNs: 0n,
    replicaN: 1,
    isDefault: true,
  }];
  defaultRetentionPolicy = () => "autogen";
  shards = () => this.shardList;
}
