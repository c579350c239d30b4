/**
 * The storage engine of one node: the write-ahead log, the catalog and the in-memory heads.
 * Writes are acknowledged after the WAL fsync and become visible to queries in log order.
 * It implements the query room's QueryStore contract (structurally).
 * @module
 */
import {
  type Clock,
  type FileSystem,
  type Logger,
  NotFoundError,
  type Point,
} from "../core/mod.ts";
import { type CatalogOp, checkDatabaseName, DatabaseState } from "./catalog.ts";
import type { Head } from "./head.ts";
import {
  decodeWriteBatch,
  encodeWriteBatch,
  type ReplayedRecord,
  WriteAheadLog,
} from "./wal/mod.ts";

/** WAL record types used by the engine. */
export const RecordType = { Write: 1, Catalog: 2 } as const;

/** Options of {@linkcode StorageEngine.open}. */
export interface EngineOptions {
  /** The node's data folder; the WAL goes to `<dir>/wal`. */
  dir: string;
  fs: FileSystem;
  clock: Clock;
  logger: Logger;
  /** WAL segment size in bytes. @default {64 MiB} */
  walSegmentBytes?: number;
}

/** A point refused by the write path: its index in the request and InfluxDB's reason. */
export interface Rejection {
  index: number;
  reason: string;
}

/** What a write did. */
export interface WriteOutcome {
  accepted: number;
  rejected: Rejection[];
}

/** A shard as the query engine reads it. For now one per database and retention policy. */
export interface RetentionPolicyView {
  name: string;
  durationNs: bigint;
  shardGroupDurationNs: bigint;
  replicaN: number;
  isDefault: boolean;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** The single-node storage engine. */
export class StorageEngine {
  #databases = new Map<string, DatabaseState>();
  #wal!: WriteAheadLog;
  #replayed = { records: 0, points: 0 };

  private constructor(private readonly options: EngineOptions) {}

  /**
   * Opens (or creates) the data folder and replays the WAL.
   * @throws {CorruptionError} when the WAL is damaged other than at its tail.
   */
  static async open(options: EngineOptions): Promise<StorageEngine> {
    const engine = new StorageEngine(options);
    await options.fs.mkdir(options.dir);
    const started = options.clock.monotonicMs();
    engine.#wal = await WriteAheadLog.open(
      {
        fs: options.fs,
        dir: `${options.dir}/wal`,
        logger: options.logger,
        segmentBytes: options.walSegmentBytes,
      },
      (record) => engine.#replay(record),
    );
    options.logger.info("replayed write-ahead log", {
      records: engine.#replayed.records,
      points: engine.#replayed.points,
      ms: Math.round(options.clock.monotonicMs() - started),
    });
    return engine;
  }

  #replay(record: ReplayedRecord): void {
    this.#replayed.records++;
    if (record.type === RecordType.Write) {
      const batch = decodeWriteBatch(record.payload, record.file, record.offset);
      const db = this.#databases.get(batch.database);
      // A write to a database dropped later in the log was undone by that drop.
      if (!db) return;
      db.checkFieldTypes(batch.points);
      db.head(batch.retentionPolicy).apply(batch.points);
      this.#replayed.points += batch.points.length;
    } else if (record.type === RecordType.Catalog) {
      this.#applyCatalog(JSON.parse(textDecoder.decode(record.payload)) as CatalogOp);
    } else {
      throw new Error(
        `BUG: unknown WAL record type ${record.type} at ${record.file}:${record.offset}`,
      );
    }
  }

  #applyCatalog(op: CatalogOp): void {
    if (op.op === "create_database") {
      if (!this.#databases.has(op.name)) this.#databases.set(op.name, new DatabaseState(op.name));
    } else if (op.op === "drop_database") {
      this.#databases.delete(op.name);
    }
  }

  async #logCatalog(op: CatalogOp): Promise<void> {
    await this.#wal.append(
      RecordType.Catalog,
      textEncoder.encode(JSON.stringify(op)),
      () => this.#applyCatalog(op),
    );
  }

  #database(name: string): DatabaseState {
    const db = this.#databases.get(name);
    if (!db) {
      throw new NotFoundError(`database not found: ${name}`, { details: { database: name } });
    }
    return db;
  }

  /** True when the database exists. */
  hasDatabase(name: string): boolean {
    return this.#databases.has(name);
  }

  /**
   * Writes points to a database. Points whose field types conflict are rejected (each with
   * InfluxDB's reason); the others are durable when the promise resolves.
   * @throws {NotFoundError} for an unknown database or retention policy.
   * @throws {StorageError} when the WAL cannot be written (disk full ...): nothing was written.
   */
  async write(database: string, retentionPolicy: string | undefined, points: Point[]): Promise<
    WriteOutcome
  > {
    const db = this.#database(database);
    const rp = retentionPolicy || db.defaultRetentionPolicy;
    db.head(rp); // throws for an unknown policy before anything is logged
    const { accepted, rejected } = db.checkFieldTypes(points);
    if (accepted.length > 0) {
      const payload = encodeWriteBatch({ database, retentionPolicy: rp, points: accepted });
      await this.#wal.append(RecordType.Write, payload, () => {
        // The database may have been dropped while this record waited for its fsync.
        this.#databases.get(database)?.heads.get(rp)?.apply(accepted);
      });
    }
    return { accepted: accepted.length, rejected };
  }

  // --- QueryStore ---------------------------------------------------------------------------

  /** Database names, sorted. */
  databases(): string[] {
    return [...this.#databases.keys()].sort();
  }

  /** Creates a database; creating an existing one is a no-op, as in InfluxDB. */
  async createDatabase(name: string): Promise<void> {
    checkDatabaseName(name);
    if (this.#databases.has(name)) return;
    await this.#logCatalog({ op: "create_database", name });
  }

  /** Drops a database and all its data; dropping a missing one is a no-op, as in InfluxDB. */
  async dropDatabase(name: string): Promise<void> {
    if (!this.#databases.has(name)) return;
    await this.#logCatalog({ op: "drop_database", name });
  }

  /** The retention policies of a database. */
  retentionPolicies(database: string): RetentionPolicyView[] {
    const db = this.#database(database);
    return [...db.retentionPolicies.values()].map((rp) => ({
      ...rp,
      isDefault: rp.name === db.defaultRetentionPolicy,
    }));
  }

  /** The default retention policy of a database. */
  defaultRetentionPolicy(database: string): string {
    return this.#database(database).defaultRetentionPolicy;
  }

  /** The shards of a database and policy that may hold data in the range (one, for now). */
  shards(database: string, retentionPolicy: string, _minNs: bigint, _maxNs: bigint): Head[] {
    const db = this.#database(database);
    return [db.head(retentionPolicy)];
  }

  /** Counts for /metrics and /health. */
  stats(): { databases: number; series: number; values: number } {
    let series = 0, values = 0;
    for (const db of this.#databases.values()) {
      for (const head of db.heads.values()) {
        series += head.seriesCount;
        values += head.valueCount;
      }
    }
    return { databases: this.#databases.size, series, values };
  }

  /** Waits for queued WAL appends and closes the files. */
  async close(): Promise<void> {
    await this.#wal.close();
  }
}

export type { Head };
