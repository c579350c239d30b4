/**
 * Real processes: HTTPS on the HTTP port, a second node joining over HTTPS with an admin's
 * credentials (the join hands it the cluster secret), node-to-node calls over HTTPS that carry
 * the secret, and a process that knows the node-to-node address but not the secret refused.
 */
import assert from "node:assert/strict";
import { startServer } from "../_server.ts";
import { makeCertificates } from "./_certs.ts";

const ADMIN = `Basic ${btoa("admin:Adm1n-pw")}`;

Deno.test({
  name: "TLS, an authenticated join, and the cluster secret on every node-to-node call",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const certs = await makeCertificates();
    const tls = {
      EPOCHNEXUS_AUTH_ENABLED: "true",
      EPOCHNEXUS_TLS_CERT: certs.certFile,
      EPOCHNEXUS_TLS_KEY: certs.keyFile,
      EPOCHNEXUS_TLS_CA: certs.caFile,
    };
    const first = await startServer({ env: tls, caPem: certs.caPem });
    const started = [first];
    try {
      assert.match(first.url, /^https:/);
      // Plain HTTP on the HTTPS port gets no answer.
      await assert.rejects(() => fetch(`http://127.0.0.1:${first.port}/ping`));
      const bootstrap = await first.fetch(`${first.url}/query`, {
        method: "POST",
        body: new URLSearchParams({
          q: "CREATE USER admin WITH PASSWORD 'Adm1n-pw' WITH ALL PRIVILEGES",
        }),
      });
      assert.equal(bootstrap.status, 200, await bootstrap.text());

      // A node without credentials cannot join (and so never learns the secret).
      await assert.rejects(
        () =>
          startServer({
            env: { ...tls, EPOCHNEXUS_JOIN_ADDRESS: `127.0.0.1:${first.port}` },
            caPem: certs.caPem,
            timeoutMs: 20_000,
          }),
        /refused to admit this node \(HTTP 401\)/,
      );
      const second = await startServer({
        env: {
          ...tls,
          EPOCHNEXUS_JOIN_ADDRESS: `127.0.0.1:${first.port}`,
          EPOCHNEXUS_JOIN_TOKEN: "admin:Adm1n-pw",
        },
        caPem: certs.caPem,
      });
      started.push(second);
      const status = await (await first.fetch(`${first.url}/api/v1/cluster`, {
        headers: { authorization: ADMIN },
      })).json();
      assert.equal(status.nodes.length, 2, JSON.stringify(status));
      const secrets = await Promise.all(
        started.map(async (s) =>
          JSON.parse(await Deno.readTextFile(`${s.dataDir}/cluster.json`)).secret
        ),
      );
      assert.match(secrets[0], /^[0-9a-f]{64}$/);
      assert.equal(secrets[1], secrets[0], "the join handed the secret over");

      // Data crosses nodes (node-to-node HTTPS with the secret): written on one, read on the other.
      const made = await second.fetch(`${second.url}/query`, {
        method: "POST",
        headers: { authorization: ADMIN },
        body: new URLSearchParams({ q: "CREATE DATABASE shared" }),
      });
      assert.equal(made.status, 200, await made.text());
      const lines = Array.from({ length: 200 }, (_, i) => `m,host=h${i} v=${i} ${1e18 + i}`);
      const write = await second.fetch(`${second.url}/write?db=shared`, {
        method: "POST",
        headers: { authorization: ADMIN },
        body: lines.join("\n"),
      });
      assert.equal(write.status, 204, await write.text());
      const read = await first.fetch(`${first.url}/query?db=shared`, {
        method: "POST",
        headers: { authorization: ADMIN },
        body: new URLSearchParams({ q: "SELECT count(v) FROM m" }),
      });
      const answer = await read.json();
      assert.equal(answer.results[0].series[0].values[0][1], 200, JSON.stringify(answer));
      // Raft and forwarded writes go on a peer stream over TLS too (src/rpc/peer_stream.ts).
      for (const s of started) assert.match(s.logs(), /peer stream open/, s.logs());

      // Someone who knows the node-to-node address but not the secret: refused before decoding.
      const raftPort = Number(/ raft="[^"]*:(\d+)"/.exec(first.logs())![1]);
      const raftUrl = `https://127.0.0.1:${raftPort}`;
      for (
        const path of [
          "/epochnexus.raft.v1.RaftService/Send",
          "/epochnexus.cluster.v1.ClusterService/ProposeMeta",
          "/epochnexus.cluster.v1.ClusterService/WritePartition",
        ]
      ) {
        for (const secret of [undefined, "0".repeat(64)]) {
          const headers: Record<string, string> = { "content-type": "application/proto" };
          if (secret) headers["x-epochnexus-cluster-secret"] = secret;
          const r = await first.fetch(`${raftUrl}${path}`, {
            method: "POST",
            headers,
            body: new Uint8Array([0x0a, 0x01, 0x78]),
          });
          assert.equal(r.status, 401, `${path} without the secret: ${r.status} ${await r.text()}`);
        }
      }
      // With the secret, the same garbage reaches the service (and is refused there, not 401).
      const r = await first.fetch(`${raftUrl}/epochnexus.cluster.v1.ClusterService/ProposeMeta`, {
        method: "POST",
        headers: { "content-type": "application/proto", "x-epochnexus-cluster-secret": secrets[0] },
        body: new Uint8Array([0x0a, 0x01, 0x78]),
      });
      await r.body?.cancel();
      assert.notEqual(r.status, 401);
      // Six refusals: one line at once (the rest go in a summary 10 s later), all counted.
      const refusedLines = first.logs().match(
        /node-to-node call without the cluster secret refused/g,
      );
      assert.equal(refusedLines?.length, 1, first.logs());
      const metrics = await (await first.fetch(`${first.url}/metrics`, {
        headers: { authorization: ADMIN },
      })).text();
      const refused = /^epochnexus_cluster_calls_refused_total (\d+)$/m.exec(metrics);
      assert.ok(refused && Number(refused[1]) >= 6, refused?.[0] ?? "no refusal counter");
    } finally {
      for (const s of started.reverse()) await s.stop();
      await Deno.remove(certs.dir, { recursive: true });
    }
  },
});
