/**
 * The function registry with every family registered. Import this, not the family files.
 * @module
 */
import "./aggregates.ts";
import "./selectors.ts";
import "./transformations.ts";
import "./math.ts";
import "./technical.ts";
import "./holt_winters.ts";

export * from "./registry.ts";
export { countDistinct } from "./aggregates.ts";
