/**
 * `/metrics` of a real node: the Raft figures of each of its groups and of its shared log.
 */
import assert from "node:assert/strict";
import { startServer, writeLines } from "../_server.ts";

function sample(text: string, name: string, labels = ""): number[] {
  const out: number[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}${labels}`) && /[ {]/.test(line[name.length] ?? "")) {
      out.push(Number(line.slice(line.lastIndexOf(" ") + 1)));
    }
  }
  return out;
}

Deno.test("/metrics shows each Raft group's role, indexes and proposals, and the shared log", async () => {
  const server = await startServer();
  try {
    assert.equal(
      (await writeLines(server.url, "epochnexus", "m,host=a v=1 1\nm,host=b v=2 2")).status,
      204,
    );
    const text = await (await fetch(`${server.url}/metrics`)).text();
    // One node: it leads the metadata group and the default database's 4 partitions.
    assert.deepEqual(sample(text, "epochnexus_raft_groups", '{role="leader"}'), [5]);
    assert.equal(sample(text, "epochnexus_raft_leader").length, 5);
    assert.ok(sample(text, "epochnexus_raft_proposals_total").reduce((a, b) => a + b) >= 2);
    assert.deepEqual(sample(text, "epochnexus_raft_apply_lag").filter((n) => n !== 0), []);
    assert.ok(sample(text, "epochnexus_raft_log_bytes")[0] > 0);
    assert.match(text, /# TYPE epochnexus_raft_log_fsyncs_total counter/);
  } finally {
    await server.stop();
  }
});
