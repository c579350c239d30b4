/**
 * Reading rules: the YAML files of `rules_dir` (`*.yaml`, `*.yml`, `*.json`) and alert rules
 * given to the API. Everything is checked when it is read, so a mistake stops a start or a reload
 * (or the API call) with the file, line and key: the YAML and the zod model, the alert's query
 * (an InfluxQL SELECT) and condition (the expression language), names unique across files.
 *
 * This module does no IO: the caller passes each file's path and text.
 * @module
 */
import { ValidationError } from "../core/mod.ts";
import { parseStatement } from "../query/mod.ts";
import { compileExpression, readYamlDocument } from "../schema/mod.ts";
import { AlertRuleSpec, type DownsamplingSpec, RulesFile } from "./rules_model.ts";

/** A rules file or rule that is not valid: names the file, line and key. */
export class RulesError extends ValidationError {
  constructor(message: string) {
    super(message);
    this.name = "RulesError";
  }
}

/** The rules in force from the files: where each came from. */
export interface LoadedRules {
  alerts: (AlertRuleSpec & { source: string })[];
  downsampling: (DownsamplingSpec & { source: string })[];
}

type KeyPath = readonly PropertyKey[];

/**
 * Parses and checks the rules files, in the order given.
 * @throws {RulesError} naming the file, line and key of the first mistake.
 */
export function parseRulesFiles(files: readonly { path: string; text: string }[]): LoadedRules {
  const out: LoadedRules = { alerts: [], downsampling: [] };
  const seen = new Map<string, string>();
  for (const { path, text } of files) {
    const { data, lineOf } = readYaml(path, text);
    const parsed = RulesFile.safeParse(data ?? {});
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => {
        let keyPath: KeyPath = issue.path;
        let message = issue.message;
        if (issue.code === "unrecognized_keys") {
          const keys = (issue as { keys: string[] }).keys;
          keyPath = [...issue.path, keys[0]];
          message = `unknown key ${keys.map((k) => JSON.stringify(k)).join(", ")}`;
        }
        return `${path}:${lineOf(keyPath)}: ${
          keyPath.map(String).join(".") || "(top)"
        }: ${message}`;
      });
      throw new RulesError(`invalid rules file:\n  ${problems.join("\n  ")}`);
    }
    const fail = (keyPath: KeyPath, message: string): never => {
      throw new RulesError(
        `invalid rules file:\n  ${path}:${lineOf(keyPath)}: ${keyPath.join(".")}: ${message}`,
      );
    };
    for (const [i, rule] of parsed.data.alerts.entries()) {
      const problem = alertProblem(rule);
      if (problem) fail(["alerts", i, problem.key], problem.message);
      const key = `alert ${rule.name}`;
      if (seen.has(key)) fail(["alerts", i, "name"], `${key} is also defined in ${seen.get(key)}`);
      seen.set(key, path);
      out.alerts.push({ ...rule, source: path });
    }
    for (const [i, rule] of parsed.data.downsampling.entries()) {
      const key = `downsampling ${rule.name}`;
      if (seen.has(key)) {
        fail(["downsampling", i, "name"], `${key} is also defined in ${seen.get(key)}`);
      }
      seen.set(key, path);
      out.downsampling.push({ ...rule, source: path });
    }
  }
  return out;
}

/**
 * An alert rule given to the API (JSON or YAML already parsed), checked.
 * @throws {RulesError} naming the key.
 */
export function parseAlertRule(raw: unknown): AlertRuleSpec {
  const parsed = AlertRuleSpec.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const keyPath = issue.code === "unrecognized_keys"
      ? [...issue.path, (issue as { keys: string[] }).keys[0]]
      : issue.path;
    throw new RulesError(
      `invalid alert rule: ${keyPath.map(String).join(".") || "(top)"}: ${
        issue.code === "unrecognized_keys" ? "unknown key" : issue.message
      }`,
    );
  }
  const problem = alertProblem(parsed.data);
  if (problem) throw new RulesError(`invalid alert rule: ${problem.key}: ${problem.message}`);
  return parsed.data;
}

/** What is wrong with an alert rule's query or condition, if anything. */
function alertProblem(rule: AlertRuleSpec): { key: string; message: string } | undefined {
  try {
    const stmt = parseStatement(rule.query);
    if (stmt.kind !== "select") return { key: "query", message: "must be a SELECT statement" };
    if (stmt.into) return { key: "query", message: "must not write (no INTO)" };
  } catch (error) {
    return { key: "query", message: (error as Error).message };
  }
  try {
    compileExpression(rule.condition);
  } catch (error) {
    return { key: "condition", message: (error as Error).message };
  }
  return undefined;
}

function readYaml(path: string, text: string) {
  return readYamlDocument(path, text, (message) => new RulesError(message));
}
