import assert from "node:assert/strict";
import { checksumMismatches, QUERY_TYPES } from "./queries.ts";

const [first, second] = QUERY_TYPES.map((t) => t.name);
const answers = (a: number, b: number | null) => [
  { system: "A", queries: { [first]: { checksum: a }, [second]: { checksum: 1 } } },
  {
    system: "B",
    queries: { [first]: b === null ? null : { checksum: b }, [second]: { checksum: 1 } },
  },
];

Deno.test("peers: checksums that differ name the query type, its queries and both sums", () => {
  const found = checksumMismatches(answers(6068.829, 6068.9), (t) => `queries of ${t.name}`);
  assert.deepEqual(found, [`${first} (queries of ${first}): A=6068.829 B=6068.9`]);
});

Deno.test("peers: checksums equal to a relative 1e-9, or a type one system lacks, pass", () => {
  assert.deepEqual(checksumMismatches(answers(6068.829, 6068.829 * (1 + 1e-12)), () => ""), []);
  assert.deepEqual(checksumMismatches(answers(6068.829, null), () => ""), []);
});
