/**
 * Clients of an EpochNexus server. {@linkcode PointWriter}: buffered, batched writes with
 * retries (backoff with jitter, `Retry-After`), a bounded buffer and a report of what could
 * not be written.
 * @module
 */
export * from "./writer.ts";
