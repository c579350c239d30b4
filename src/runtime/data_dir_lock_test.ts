import assert from "node:assert/strict";
import { DataDirLockedError, lockDataDir } from "./data_dir_lock.ts";

Deno.test("data dir lock: a second lock on a held folder is refused with the pid; release frees it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lock = await lockDataDir(`${dir}/data`);
    // flock belongs to the open file, so a second open in this process conflicts too.
    await assert.rejects(() => lockDataDir(`${dir}/data`), (error: Error) => {
      assert.ok(error instanceof DataDirLockedError);
      assert.match(error.message, new RegExp(`data folder ${dir}/data is in use`));
      assert.match(error.message, new RegExp(`\\(pid ${Deno.pid}\\)`));
      return true;
    });
    lock.release();
    const again = await lockDataDir(`${dir}/data`);
    again.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
