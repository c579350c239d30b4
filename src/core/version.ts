/**
 * EpochNexus's own version (deno.json's `version`; a test keeps the two equal). The InfluxDB
 * version its 1.x API is compatible with is `INFLUX_VERSION` in `src/http/responses.ts`.
 * @module
 */

/** The release of this code. */
export const VERSION = "0.1.0";
