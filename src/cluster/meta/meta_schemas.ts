/**
 * Measurement schemas set through the API, as part of the replicated metadata: every node applies
 * the same schemas from its own copy, and a node that joins or restarts gets them with the rest.
 *
 * An entry is the schema's body as the API took it (validated and compiled by the proposing node
 * before it is proposed) and the contents of the files its steps name (`script.file`,
 * `lookup.file`), read from the proposing node's schema folder under the folder's rules: the
 * other nodes never read a file for it, so nothing outside a folder is ever reachable through it.
 * The table itself stores them as given (applying stays deterministic and cheap).
 * @module
 */

/** One measurement's API schema as replicated. */
export interface SchemaMeta {
  /** The body as the API took it (JSON or YAML, decoded). */
  schema: unknown;
  /** file name as the schema writes it -> its text. */
  files: Record<string, string>;
}

/** The commands of this table. */
export type SchemaCommand =
  | { op: "set_schema"; measurement: string; entry: SchemaMeta; ifAbsent?: boolean }
  | { op: "delete_schema"; measurement: string };

/** The ops of {@linkcode SchemaCommand}, to route them. */
export const SCHEMA_OPS: ReadonlySet<string> = new Set(["set_schema", "delete_schema"]);

/** The outcome of a schema command. */
export type SchemaResult = { ok: true } | { ok: false; error: string };

/** API schemas by measurement. */
export class SchemaTable {
  readonly entries = new Map<string, SchemaMeta>();
  readonly #listeners: ((measurement: string | undefined) => void)[] = [];

  /**
   * Called after a change with the measurement whose schema changed, or undefined when the whole
   * table was replaced (a snapshot): the node's registry compiles what it must.
   */
  onChange(listener: (measurement: string | undefined) => void): void {
    this.#listeners.push(listener);
  }

  /** Applies one command. `ifAbsent` (a node migrating its old store) never replaces one. */
  apply(c: SchemaCommand): SchemaResult {
    switch (c.op) {
      case "set_schema":
        if (c.ifAbsent && this.entries.has(c.measurement)) return { ok: true };
        this.entries.set(c.measurement, structuredClone(c.entry));
        this.#changed(c.measurement);
        return { ok: true };
      case "delete_schema":
        if (!this.entries.delete(c.measurement)) {
          return { ok: false, error: `no schema for measurement ${JSON.stringify(c.measurement)}` };
        }
        this.#changed(c.measurement);
        return { ok: true };
    }
  }

  /** The snapshot's part (plain JSON). */
  toJSON(): { schemas: [string, SchemaMeta][] } {
    return { schemas: [...this.entries] };
  }

  /** Replaces the contents from a snapshot's part (absent in snapshots made before schemas). */
  restore(s: { schemas?: [string, SchemaMeta][] } | undefined): void {
    this.entries.clear();
    for (const [measurement, entry] of s?.schemas ?? []) this.entries.set(measurement, entry);
    this.#changed(undefined);
  }

  #changed(measurement: string | undefined): void {
    for (const listener of this.#listeners) listener(measurement);
  }
}
