/**
 * Node configuration from YAML and the environment, validated with zod.
 * @module
 */
export * from "./config.ts";
