/**
 * Format decoders: bytes or text in, {@linkcode Point}s and per-record errors out. No IO and
 * no clock: the caller passes the time for points without one. Every decoder hands out
 * `PackedPoint`s (a field layout shared by the points of the same fields, plus their values),
 * their layouts from the caller's `FieldLayouts` when it passes one (`layouts`; a server keeps
 * one per database, line protocol's in its `LineProtocolCache`), else from the decoder's own.
 *
 * - {@linkcode parseLineProtocol}, {@linkcode LineProtocolDecoder}: InfluxDB 1.x line protocol.
 * - {@linkcode formatLineProtocol}: points back to line protocol.
 * - {@linkcode decodeJsonPoints}, {@linkcode pointFromJsonObject}: the native JSON API.
 * - {@linkcode NdjsonDecoder}, {@linkcode decodeNdjsonStream}: NDJSON, one record per line.
 * - {@linkcode decodeLineProtocolStream}: line protocol from a byte stream.
 * - {@linkcode decodeCsvStream}: CSV with a header row.
 * - {@linkcode decodeProtobufWrite}: `epochnexus.ingest.v1.WriteRequest` bytes.
 * - {@linkcode decodePromWrite}, {@linkcode uncompressSnappy}: Prometheus remote_write.
 * - {@linkcode commitBatches}: decoded batches written with backpressure.
 * - {@linkcode WriteAdmission}: bounds on concurrent writes and their bytes.
 *
 * @module
 */
export * from "./line_protocol.ts";
export * from "./line_protocol_format.ts";
export * from "./json_points.ts";
export * from "./batches.ts";
export * from "./ndjson.ts";
export * from "./line_protocol_stream.ts";
export * from "./csv_points.ts";
export * from "./admission.ts";
export * from "./protobuf_points.ts";
export * from "./prom_remote_write.ts";
export * from "./prom_remote_read.ts";
export * from "./time_hint.ts";
