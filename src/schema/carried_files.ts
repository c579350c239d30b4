/**
 * The files a schema's steps name (`script.file`, `lookup.file`), carried with the schema when it
 * is replicated: the proposing node reads them from its schema folder under the folder's rules
 * (schema_folder.ts: relative, no `..`, no symlink out, no contents in an error), and every node
 * compiles the schema from these texts, reading no file of its own. A schema carries at most
 * {@linkcode MAX_CARRIED_FILE_BYTES} of them: they travel in a metadata log entry and stay in
 * every node's metadata snapshot.
 * @module
 */
import type { FileSystem } from "../core/mod.ts";
import type { Step } from "./model.ts";
import { readSchemaFile, SchemaFileError } from "./schema_folder.ts";
import { SchemaRuleError } from "./validate.ts";

/** Bytes of files (UTF-8) one schema may carry. */
export const MAX_CARRIED_FILE_BYTES = 1024 * 1024;

/** The file a step names, with the step's key (`pipeline.2.lookup.file`). */
function namedFiles(steps: readonly Step[]): { file: string; keyPath: (string | number)[] }[] {
  const out: { file: string; keyPath: (string | number)[] }[] = [];
  for (const [i, step] of steps.entries()) {
    if ("script" in step && step.script.file !== undefined) {
      out.push({ file: step.script.file, keyPath: ["pipeline", i, "script", "file"] });
    }
    if ("lookup" in step && step.lookup.file !== undefined) {
      out.push({ file: step.lookup.file, keyPath: ["pipeline", i, "lookup", "file"] });
    }
  }
  return out;
}

/**
 * Reads the files `steps` name from the schema folder: file name as written -> text.
 * @throws {SchemaRuleError} whose message starts with the step's key, for a file the folder's
 * rules refuse, or when they are more than {@linkcode MAX_CARRIED_FILE_BYTES} together (the
 * error gives sizes, never contents).
 */
export async function readCarriedFiles(
  fs: FileSystem,
  folder: string | undefined,
  steps: readonly Step[],
): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  let bytes = 0;
  for (const { file, keyPath } of namedFiles(steps)) {
    if (Object.hasOwn(files, file)) continue;
    let text: string;
    try {
      text = await readSchemaFile(fs, folder, file);
    } catch (error) {
      if (!(error instanceof SchemaFileError)) throw error;
      throw new SchemaRuleError(`${keyPath.join(".")}: ${error.message}`, keyPath);
    }
    bytes += new TextEncoder().encode(text).length;
    if (bytes > MAX_CARRIED_FILE_BYTES) {
      throw new SchemaRuleError(
        `${keyPath.join(".")}: ${JSON.stringify(file)} takes the files this schema names to ` +
          `${bytes} bytes; a schema carries at most ${MAX_CARRIED_FILE_BYTES} bytes of files ` +
          "to the other nodes",
        keyPath,
      );
    }
    files[file] = text;
  }
  return files;
}
