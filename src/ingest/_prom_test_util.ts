/** Remote_write request bytes for the tests, encoded by hand (no generated code). @module */

/**
 * Protobuf bytes of a WriteRequest with one series of these labels and `samples` samples (value
 * i + 1 at i + 1 ms). The bytes of two requests put end to end are one request of both series.
 */
export function promWriteRequest(labels: [string, string][], samples = 1): Uint8Array {
  const enc = new TextEncoder();
  const field = (n: number, body: number[]) => [(n << 3) | 2, body.length, ...body];
  const str = (n: number, s: string) => field(n, [...enc.encode(s)]);
  const sample = (i: number) => [9, ...new Uint8Array(new Float64Array([i + 1]).buffer), 16, i + 1];
  const series = [
    ...labels.flatMap(([k, v]) => field(1, [...str(1, k), ...str(2, v)])),
    ...Array.from({ length: samples }, (_, i) => field(2, sample(i))).flat(),
  ];
  return Uint8Array.from(field(1, series));
}
