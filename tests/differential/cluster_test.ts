/**
 * The differential test against a 3-node cluster: the same data and requests as
 * `influxdb_test.ts` (`_compare.ts`), and the cluster's answers must be influxd's byte for byte,
 * with the same known differences as one node's.
 *
 * Six partitions of two replicas each: every node holds four and reads the other two from the
 * nodes that hold them. Each batch is written through the next node in turn and each request
 * asked of the next node in turn, so writes are routed to partition leaders elsewhere, shard
 * groups are made by one node and used by another, and queries fan out.
 */
import assert from "node:assert/strict";
import { TestCluster } from "../_cluster.ts";
import { startInfluxd } from "../_influxd.ts";
import { type Answer, ask } from "./_ask.ts";
import { runDifferential } from "./_compare.ts";
import type { HttpRequest } from "./_queries.ts";

const CLUSTER_ENV = {
  EPOCHNEXUS_DEFAULT_PARTITIONS: "6",
  EPOCHNEXUS_REPLICATION_FACTOR: "2",
};

/** A statement error of a cluster whose partition had no leader for a moment. */
const UNAVAILABLE = /cannot answer|cannot confirm a read|has no leader/;

Deno.test({
  name: "differential: a 3-node cluster answers as InfluxDB 1.6.7 does",
  sanitizeResources: false,
  fn: async () => {
    const [influx, cluster] = await Promise.all([
      startInfluxd(),
      TestCluster.start({ env: CLUSTER_ENV }),
    ]);
    try {
      // The first node made its default database alone (one replica): drop it, so that SHOW
      // DATABASES lists what influxd lists; the run creates diff over all three nodes.
      await ask(cluster.url(0), { params: { q: "DROP DATABASE epochnexus" }, method: "POST" });
      let turn = 0;
      const next = () => cluster.url(turn++ % cluster.nodes.length);
      let retries = 0;
      /**
       * Asks again (up to 5 times) when a partition could not answer: on a loaded machine
       * leaders change, and this test is about the answers (the chaos and partition tests are
       * about availability). The retries are counted and printed.
       */
      const askCluster = async (request: HttpRequest): Promise<Answer> => {
        for (let attempt = 0;; attempt++) {
          const answer = await ask(next(), request);
          if (attempt >= 5 || !UNAVAILABLE.test(answer.body)) return answer;
          retries++;
          await new Promise((r) => setTimeout(r, 500));
        }
      };
      const { compared, known, different } = await runDifferential(influx.url, [
        { name: "cluster", url: next, ask: askCluster },
      ]);
      console.log(
        `differential (3 nodes): ${compared} answers compared, ${compared - different.length} ` +
          `as expected (${known} of them known differences), ${different.length} different; ` +
          `asked again ${retries} times (a partition without leader for a moment)`,
      );
      assert.deepEqual(different, [], different.join("\n"));
    } finally {
      await Promise.all([cluster.stop(), influx.stop()]);
    }
  },
});
