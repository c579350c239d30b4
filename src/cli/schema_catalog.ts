/**
 * The node's API schemas kept in the cluster's metadata group: a PUT or DELETE through any node
 * is proposed there (forwarded to the metadata leader), and every node's schema registry follows
 * its own copy of the metadata (see `SchemaCatalog` in src/schema/registry.ts).
 * @module
 */
import type { ClusterNode } from "../cluster/mod.ts";
import { EpochError } from "../core/mod.ts";
import type { CarriedSchema, SchemaCatalog } from "../schema/mod.ts";

/** The metadata group of `node` as the schema registry's catalog. */
export function metaSchemaCatalog(node: ClusterNode): SchemaCatalog {
  const table = node.meta.state.schemas;
  return {
    entries: () => table.entries as ReadonlyMap<string, CarriedSchema>,
    async set(measurement, entry, options) {
      const result = await node.proposeMeta({
        op: "set_schema",
        measurement,
        entry,
        ...(options?.ifAbsent && { ifAbsent: true }),
      });
      if (!result.ok) throw new EpochError("internal", `schema of ${measurement}: ${result.error}`);
    },
    async delete(measurement) {
      return (await node.proposeMeta({ op: "delete_schema", measurement })).ok;
    },
    onChange: (listener) => table.onChange(listener),
  };
}
