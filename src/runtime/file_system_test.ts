import assert from "node:assert/strict";
import type { FileSystem } from "../core/mod.ts";
import { denoFileSystem } from "./file_system.ts";

/**
 * Records the fsyncs the runtime makes, by wrapping its own methods for the duration of `fn`:
 * the crash tests run core's steps on a model of the disk, this checks the runtime runs them too.
 */
async function recordingSyncs(fn: () => Promise<void>): Promise<string[]> {
  const calls: string[] = [];
  const fs = denoFileSystem as { -readonly [K in keyof FileSystem]: FileSystem[K] };
  const { open, syncDir, rename } = fs;
  fs.syncDir = (path) => {
    calls.push(`syncDir ${path}`);
    return syncDir(path);
  };
  fs.rename = (from, to) => {
    calls.push(`rename ${from} -> ${to}`);
    return rename(from, to);
  };
  fs.open = async (path, options) => {
    const handle = await open(path, options);
    const datasync = handle.datasync.bind(handle);
    handle.datasync = () => {
      calls.push(`datasync ${path}`);
      return datasync();
    };
    return handle;
  };
  try {
    await fn();
  } finally {
    Object.assign(fs, { open, syncDir, rename });
  }
  return calls;
}

Deno.test("file system: writeFileAtomic fsyncs the temp file, renames it, fsyncs the folder", async () => {
  const dir = await Deno.makeTempDir();
  const calls = await recordingSyncs(() =>
    denoFileSystem.writeFileAtomic(`${dir}/f`, new Uint8Array([1, 2, 3]))
  );
  assert.deepEqual(calls, [
    `datasync ${dir}/f.tmp`,
    `rename ${dir}/f.tmp -> ${dir}/f`,
    `syncDir ${dir}`,
  ]);
  assert.deepEqual(await Deno.readFile(`${dir}/f`), new Uint8Array([1, 2, 3]));
});

Deno.test("file system: mkdir fsyncs the folder holding each folder it creates", async () => {
  const dir = await Deno.makeTempDir();
  const calls = await recordingSyncs(() => denoFileSystem.mkdir(`${dir}/a/b/c`));
  assert.deepEqual(calls, [`syncDir ${dir}`, `syncDir ${dir}/a`, `syncDir ${dir}/a/b`]);
  assert.ok((await Deno.stat(`${dir}/a/b/c`)).isDirectory);
  assert.deepEqual(await recordingSyncs(() => denoFileSystem.mkdir(`${dir}/a/b`)), []);
});
