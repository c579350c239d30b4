/**
 * The shared leaf: errors, interfaces, time and the point model. Imports nothing of ours.
 * @module
 */
export * from "./column.ts";
export * from "./crc32c.ts";
export * from "./field_layout.ts";
export * from "./errors.ts";
export * from "./file_steps.ts";
export * from "./histogram.ts";
export * from "./interfaces.ts";
export * from "./log_limiter.ts";
export * from "./point.ts";
export * from "./point_input.ts";
export * from "./time.ts";
export * from "./torn_write.ts";
export * from "./version.ts";
export { concatBytes } from "./bytes.ts";
export { drainedOrClosed, type DrainEmitter } from "./drained.ts";
export { formatBytes } from "./format_bytes.ts";
