/**
 * Format decoders: bytes or text in, {@linkcode Point}s and per-record errors out. No IO and
 * no clock: the caller passes the time for points without one.
 *
 * - {@linkcode parseLineProtocol}, {@linkcode LineProtocolDecoder}: InfluxDB 1.x line protocol.
 * - {@linkcode formatLineProtocol}: points back to line protocol.
 * - {@linkcode decodeJsonPoints}, {@linkcode pointFromJsonObject}: the native JSON API.
 *
 * @module
 */
export * from "./line_protocol.ts";
export * from "./line_protocol_format.ts";
export * from "./json_points.ts";
