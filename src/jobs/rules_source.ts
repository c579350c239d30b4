/**
 * The rules files of `rules_dir`: read at start (a mistake stops the start) and again on reload
 * (a mistake keeps the rules in force and is reported).
 * @module
 */
import type { FileSystem } from "../core/mod.ts";
import { type LoadedRules, parseRulesFiles, RulesError } from "./rules_file.ts";

const RULES_FILE = /\.(ya?ml|json)$/i;

/** The rules of a folder, reloadable. */
export class RulesSource {
  #rules: LoadedRules = { alerts: [], downsampling: [] };

  private constructor(readonly fs: FileSystem, readonly folder: string | undefined) {}

  /**
   * Reads the folder (none: no rules).
   * @throws {RulesError} naming the file, line and key of a mistake.
   */
  static async open(fs: FileSystem, folder: string | undefined): Promise<RulesSource> {
    const source = new RulesSource(fs, folder);
    await source.reload();
    return source;
  }

  /** The rules in force. */
  get rules(): LoadedRules {
    return this.#rules;
  }

  /**
   * Reads the folder again; on a mistake the rules in force stay.
   * @throws {RulesError} naming the file, line and key.
   */
  async reload(): Promise<LoadedRules> {
    if (!this.folder) return this.#rules;
    if (!(await this.fs.stat(this.folder))?.isDirectory) {
      throw new RulesError(`rules_dir ${this.folder} is not a folder`);
    }
    const files: { path: string; text: string }[] = [];
    for (const name of await this.fs.readDir(this.folder)) {
      if (!RULES_FILE.test(name)) continue;
      const path = `${this.folder}/${name}`;
      if (!(await this.fs.stat(path))?.isFile) continue;
      files.push({ path, text: new TextDecoder().decode(await this.fs.readFile(path)) });
    }
    this.#rules = parseRulesFiles(files);
    return this.#rules;
  }
}
