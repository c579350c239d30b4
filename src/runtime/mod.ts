/**
 * Deno implementations of core's interfaces. The only room that touches `Deno.*`,
 * `Date.now` or `Math.random`; cli/ and mod.ts hand these down to everything else.
 * @module
 */
export * from "./clock.ts";
export * from "./data_dir_lock.ts";
export * from "./file_system.ts";
export * from "./http_server.ts";
export * from "./json_lines.ts";
export * from "./process_stats.ts";
export * from "./security.ts";
export * from "./serve.ts";
export * from "./terminal.ts";
export * from "./upgrade_socket.ts";
export * from "./worker_host.ts";
