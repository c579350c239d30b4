/**
 * A cold store's object as a segment source: the reader fetches ranges (header, footer, index
 * when opened; one block per read).
 * @module
 */
import type { SegmentSource } from "../segment/mod.ts";
import type { ColdStore } from "./cold_store.ts";

/** Opens an object as a {@linkcode SegmentSource}; `size` from the catalog or a HEAD. */
export async function coldSource(
  store: ColdStore,
  key: string,
  size?: number,
): Promise<SegmentSource> {
  const known = size ?? await store.size(key);
  return {
    name: `${store.name}/${key}`,
    size: known ?? 0,
    read: (offset, length) => store.read(key, offset, length),
    close() {},
  };
}
