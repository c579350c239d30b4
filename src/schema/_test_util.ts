/**
 * Test helpers: points, an in-memory FileSystem.
 * @module
 */
import {
  type Field,
  FieldType,
  type FileHandle,
  type FileSystem,
  type Point,
  sortTags,
} from "../core/mod.ts";

/** A point from plain objects: numbers are floats unless the key ends with `:i`. */
export function pt(
  measurement: string,
  tags: Record<string, string>,
  fields: Record<string, number | string | boolean | bigint>,
  timeMs = 1_700_000_000_000,
): Point {
  const fs: Field[] = Object.entries(fields).map(([k, v]) => {
    if (k.endsWith(":i")) {
      return { key: k.slice(0, -2), type: FieldType.Integer, value: v as number };
    }
    if (typeof v === "number") return { key: k, type: FieldType.Float, value: v };
    if (typeof v === "bigint") return { key: k, type: FieldType.Integer, value: v };
    if (typeof v === "boolean") return { key: k, type: FieldType.Boolean, value: v };
    return { key: k, type: FieldType.String, value: v };
  });
  const tagList = Object.entries(tags).map(([key, value]) => ({ key, value }));
  return { measurement, tags: sortTags(tagList), fields: fs, timeMs, timeSubMs: 0 };
}

/** The fields of a point as a plain object. */
export function fieldsOf(p: Point): Record<string, unknown> {
  return Object.fromEntries(p.fields.map((f) => [f.key, f.value]));
}

/** The tags of a point as a plain object. */
export function tagsOf(p: Point): Record<string, string> {
  return Object.fromEntries(p.tags.map((t) => [t.key, t.value]));
}

/** A FileSystem in memory (whole files only). */
export function memoryFileSystem(files: Record<string, string> = {}): FileSystem & {
  files: Map<string, Uint8Array>;
} {
  const map = new Map(Object.entries(files).map(([k, v]) => [k, new TextEncoder().encode(v)]));
  const dirs = () => {
    const out = new Set<string>();
    for (const path of map.keys()) {
      for (let i = path.indexOf("/", 1); i > 0; i = path.indexOf("/", i + 1)) {
        out.add(path.slice(0, i));
      }
    }
    return out;
  };
  return {
    files: map,
    open(): Promise<FileHandle> {
      throw new Error("BUG: not supported in memory");
    },
    readFile(path) {
      const data = map.get(path);
      if (!data) return Promise.reject(new Error(`no such file ${path}`));
      return Promise.resolve(data);
    },
    writeFileAtomic(path, data) {
      map.set(path, data.slice());
      return Promise.resolve();
    },
    rename(from, to) {
      map.set(to, map.get(from)!);
      map.delete(from);
      return Promise.resolve();
    },
    remove(path) {
      map.delete(path);
      return Promise.resolve();
    },
    readDir(path) {
      const names = new Set<string>();
      for (const p of map.keys()) {
        if (p.startsWith(path + "/")) names.add(p.slice(path.length + 1).split("/")[0]);
      }
      return Promise.resolve([...names].sort());
    },
    mkdir() {
      return Promise.resolve();
    },
    stat(path) {
      if (map.has(path)) {
        return Promise.resolve({ size: map.get(path)!.length, isFile: true, isDirectory: false });
      }
      if (dirs().has(path)) return Promise.resolve({ size: 0, isFile: false, isDirectory: true });
      return Promise.resolve(null);
    },
    realPath(path) {
      // No symlinks in memory: a path that exists is its own real path.
      return Promise.resolve(map.has(path) || dirs().has(path) ? path : null);
    },
    syncDir() {
      return Promise.resolve();
    },
  };
}
