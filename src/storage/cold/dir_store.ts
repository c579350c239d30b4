/**
 * A cold store in a folder (another disk): one file per object, written as every durable file
 * here is (temp file, fsync, rename, fsync of the folder), so an object is whole or absent.
 * @module
 */
import { type FileSystem, StorageError } from "../../core/mod.ts";
import { checkColdKey, type ColdObjectInfo, type ColdStore } from "./cold_store.ts";

/** A folder as a {@linkcode ColdStore}. */
export class DirColdStore implements ColdStore {
  readonly name: string;

  constructor(private readonly fs: FileSystem, private readonly dir: string) {
    this.name = `dir:${dir}`;
  }

  #path(key: string): string {
    checkColdKey(key);
    return `${this.dir}/${key}`;
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const path = this.#path(key);
    await this.fs.mkdir(path.slice(0, path.lastIndexOf("/")));
    await this.fs.writeFileAtomic(path, data);
  }

  async read(key: string, offset: number, length: number): Promise<Uint8Array> {
    const handle = await this.fs.open(this.#path(key), { read: true }).catch((error) => {
      throw new StorageError(`cold object ${this.name}/${key} cannot be opened: ${error}`, {
        cause: error,
      });
    });
    try {
      const out = new Uint8Array(length);
      if (handle.readAtSync) {
        const got = handle.readAtSync(out, offset);
        return got === length ? out : out.subarray(0, got);
      }
      await handle.seek(offset, "start");
      let got = 0;
      while (got < length) {
        const r = await handle.read(out.subarray(got));
        if (r === null || r === 0) break;
        got += r;
      }
      return got === length ? out : out.subarray(0, got);
    } finally {
      handle.close();
    }
  }

  async size(key: string): Promise<number | null> {
    return (await this.fs.stat(this.#path(key)))?.size ?? null;
  }

  async remove(key: string): Promise<void> {
    const path = this.#path(key);
    if (await this.fs.stat(path)) await this.fs.remove(path);
  }

  async list(prefix: string): Promise<ColdObjectInfo[]> {
    const out: ColdObjectInfo[] = [];
    const walk = async (rel: string): Promise<void> => {
      const names = await this.fs.readDir(rel === "" ? this.dir : `${this.dir}/${rel}`)
        .catch(() => [] as string[]);
      for (const name of names) {
        const key = rel === "" ? name : `${rel}/${name}`;
        // A temp file of an interrupted put is no object.
        if (name.endsWith(".tmp")) continue;
        if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`)) continue;
        const info = await this.fs.stat(`${this.dir}/${key}`);
        if (!info) continue;
        if (info.isDirectory) await walk(key);
        else if (key.startsWith(prefix)) {
          out.push({ key, size: info.size, modifiedMs: info.mtimeMs ?? 0 });
        }
      }
    };
    await walk("");
    return out.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  }
}
