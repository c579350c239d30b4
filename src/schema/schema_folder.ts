/**
 * Files a schema names (`script.file`, `lookup.file`, and the schema files of the config folder
 * themselves) are read from the schema folder and nowhere else: a schema set through the API is
 * written by whoever may call the API, and must not become a way to read the server's files.
 *
 * A name must be relative, without `..`; and the file's real path (every symlink resolved) must
 * lie inside the folder's real path, so a symlink inside the folder that points out of it is
 * refused too, while one that stays inside (Kubernetes' `..data` links) is fine. The file read is
 * the real path that was checked. No folder configured: every file reference is refused, since
 * there is nothing to resolve it against.
 * @module
 */
import type { FileSystem } from "../core/mod.ts";

/** A file a schema may not read; `reason` says why without quoting the file. */
export class SchemaFileError extends Error {
  constructor(readonly file: string, readonly reason: string) {
    super(`${JSON.stringify(file)} ${reason}`);
    this.name = "SchemaFileError";
  }
}

/**
 * The real path of `file` inside `folder`, checked: relative, no `..`, inside the folder after
 * symlinks are resolved, a regular file.
 *
 * @example
 * ```ts
 * await resolveSchemaFile(fs, "config/schemas", "lookups/stations.csv");
 * // "/srv/epochnexus/config/schemas/lookups/stations.csv"
 * await resolveSchemaFile(fs, "config/schemas", "../../etc/passwd"); // throws SchemaFileError
 * ```
 * @throws {SchemaFileError} naming the file as written and the reason.
 */
export async function resolveSchemaFile(
  fs: FileSystem,
  folder: string | undefined,
  file: string,
): Promise<string> {
  if (folder === undefined) {
    throw new SchemaFileError(
      file,
      "cannot be read: no schema folder is configured (EPOCHNEXUS_SCHEMA_DIR), so there is no " +
        "folder to resolve it in; give the script as `source` or the lookup as `table` instead",
    );
  }
  if (file === "" || /^[/\\]|^[A-Za-z]:/.test(file)) {
    throw new SchemaFileError(file, "must be a relative path inside the schema folder");
  }
  const parts = file.split(/[/\\]/);
  if (parts.includes("..")) throw new SchemaFileError(file, 'must not contain ".."');
  if (file.includes("\0")) throw new SchemaFileError(file, "must not contain a NUL byte");
  const relative = parts.filter((p) => p !== "" && p !== ".").join("/");
  const root = await fs.realPath(folder);
  if (root === null) {
    throw new SchemaFileError(file, `cannot be read: the schema folder ${folder} does not exist`);
  }
  const real = relative === "" ? root : await fs.realPath(`${folder}/${relative}`);
  if (real === null) throw new SchemaFileError(file, "does not exist in the schema folder");
  const inside = root.endsWith("/") ? root : `${root}/`;
  if (real !== root && !real.startsWith(inside)) {
    throw new SchemaFileError(file, "resolves outside the schema folder (a symlink out of it)");
  }
  if (!(await fs.stat(real))?.isFile) throw new SchemaFileError(file, "is not a regular file");
  return real;
}

/**
 * Reads a file a schema names, as text, confined to the schema folder.
 * @throws {SchemaFileError} as {@linkcode resolveSchemaFile}, or when it cannot be read.
 */
export async function readSchemaFile(
  fs: FileSystem,
  folder: string | undefined,
  file: string,
): Promise<string> {
  const real = await resolveSchemaFile(fs, folder, file);
  try {
    return new TextDecoder().decode(await fs.readFile(real));
  } catch (error) {
    // The OS's reason (permission denied, ...) names the path, never the contents.
    throw new SchemaFileError(file, `cannot be read: ${(error as Error).message}`);
  }
}
