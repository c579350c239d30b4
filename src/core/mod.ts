/**
 * The shared leaf: errors, interfaces, time and the point model. Imports nothing of ours.
 * @module
 */
export * from "./errors.ts";
export * from "./interfaces.ts";
export * from "./point.ts";
export * from "./time.ts";
