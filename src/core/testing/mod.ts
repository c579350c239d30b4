/**
 * Test doubles of core's interfaces, for tests of any room (never imported by product code).
 * @module
 */
export * from "./crash_fs.ts";
export * from "./seeded_random.ts";
export * from "./plain_points.ts";
export * from "./thread_cpu.ts";
