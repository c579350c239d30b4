/**
 * Databases, retention policies and the field types of every measurement. Catalog changes are
 * WAL records (type 2, a JSON payload), so replay rebuilds the catalog and the data in one order:
 * a database dropped and created again never brings back its old points.
 * @module
 */
import {
  FIELD_TYPE_NAMES,
  type FieldType,
  NotFoundError,
  type Point,
  ValidationError,
} from "../core/mod.ts";
import { Head } from "./head.ts";

/** A retention policy (only `autogen`, infinite, until retention lands). */
export interface RetentionPolicy {
  name: string;
  durationNs: bigint;
  shardGroupDurationNs: bigint;
  replicaN: number;
}

/** One database: its policies, its field types, and one head per retention policy. */
export class DatabaseState {
  readonly retentionPolicies = new Map<string, RetentionPolicy>();
  defaultRetentionPolicy = "autogen";
  /** measurement -> field -> type; a field keeps its first type for the database's life. */
  readonly fieldTypes = new Map<string, Map<string, FieldType>>();
  readonly heads = new Map<string, Head>();

  constructor(readonly name: string) {
    this.retentionPolicies.set("autogen", {
      name: "autogen",
      durationNs: 0n,
      shardGroupDurationNs: 7n * 24n * 3600n * 1_000_000_000n,
      replicaN: 1,
    });
    this.heads.set("autogen", new Head());
  }

  /** The head of a retention policy (the default when `rp` is empty). */
  head(rp: string | undefined): Head {
    const name = rp || this.defaultRetentionPolicy;
    const head = this.heads.get(name);
    if (!head) throw new NotFoundError(`retention policy not found: ${name}`);
    return head;
  }

  /**
   * Splits points into those whose field types agree with the catalog (registering new fields)
   * and the rejected ones, with InfluxDB's message. A point with any conflicting field is
   * rejected whole.
   */
  checkFieldTypes(points: readonly Point[]): {
    accepted: Point[];
    rejected: { index: number; reason: string }[];
  } {
    const accepted: Point[] = [];
    const rejected: { index: number; reason: string }[] = [];
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      let types = this.fieldTypes.get(p.measurement);
      let conflict: string | undefined;
      for (const f of p.fields) {
        const known = types?.get(f.key);
        if (known !== undefined && known !== f.type) {
          conflict =
            `field type conflict: input field "${f.key}" on measurement "${p.measurement}"` +
            ` is type ${FIELD_TYPE_NAMES[f.type]}, already exists as type ${
              FIELD_TYPE_NAMES[known]
            }`;
          break;
        }
      }
      if (conflict) {
        rejected.push({ index: i, reason: conflict });
        continue;
      }
      if (!types) this.fieldTypes.set(p.measurement, types = new Map());
      for (const f of p.fields) if (!types.has(f.key)) types.set(f.key, f.type);
      accepted.push(p);
    }
    return { accepted, rejected };
  }
}

/** A catalog change as the WAL records it. */
export type CatalogOp =
  | { op: "create_database"; name: string }
  | { op: "drop_database"; name: string };

// Control characters and slashes would break paths and logs.
// deno-lint-ignore no-control-regex
const DATABASE_NAME = /^[^\x00-\x1f\\/]+$/u;

/** Throws unless `name` can name a database. */
export function checkDatabaseName(name: string): void {
  if (!name || !DATABASE_NAME.test(name) || name.length > 255) {
    throw new ValidationError(
      `invalid database name ${JSON.stringify(name)}: 1 to 255 characters, no control ` +
        `characters or slashes`,
    );
  }
}
