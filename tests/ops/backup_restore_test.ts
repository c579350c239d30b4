/**
 * `epochnexus backup` and `restore` as real processes against real servers: a backup taken while
 * writers keep writing holds every point acknowledged before it began; a second backup into the
 * same folder sends only what changed; a restore into an empty node brings back the databases,
 * retention policies, users and grants; a restore under a new name works beside the original; a
 * database holding data is not restored over. The same through a three-node cluster.
 */
import assert from "node:assert/strict";
import { query, type ServerProcess, startServer } from "../_server.ts";
import { runCli, runCliOk } from "./_cli.ts";

const BATCH = 400;

/** Writers that keep writing numbered batches, remembering which were acknowledged. */
class Writers {
  readonly acked = new Set<number>();
  #next = 0;
  #stop = false;
  #running: Promise<void>[] = [];

  constructor(readonly urls: string[], readonly db: string) {}

  start(count: number): void {
    for (let w = 0; w < count; w++) this.#running.push(this.#loop(w));
  }

  async #loop(w: number): Promise<void> {
    for (let i = 0; i < 100_000 && !this.#stop; i++) {
      const batch = this.#next++;
      const lines = Array.from(
        { length: BATCH },
        (_, k) =>
          `m,batch=b${batch},host=h${k % 16} v=${batch}i,x=${k / 3} ${
            1_700_000_000_000_000_000n + BigInt(batch) * 1_000_000_000n + BigInt(k) * 1000n
          }`,
      );
      const url = this.urls[(batch + w) % this.urls.length];
      try {
        const r = await fetch(`${url}/write?db=${this.db}`, {
          method: "POST",
          body: lines.join("\n"),
        });
        await r.body?.cancel();
        if (r.status === 204) this.acked.add(batch);
      } catch {
        await new Promise((r) => setTimeout(r, 50)); // a node going down: not acknowledged
      }
    }
  }

  /** Waits until `n` batches were acknowledged (bounded). */
  async waitAcked(n: number): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (this.acked.size < n && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(this.acked.size >= n, `only ${this.acked.size} batches acknowledged`);
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#running);
  }
}

/** Waits (bounded) until the node has no flush running and no compaction pending. */
async function quiet(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const health = await (await fetch(`${url}/health`)).json();
    if (!health.flushing && health.compactionsPending === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the node did not settle within a minute");
}

/** batch -> [count(v), sum(v)] in a database. */
async function batches(url: string, db: string): Promise<Map<number, [number, number]>> {
  const r = await query(url, "SELECT count(v), sum(v) FROM m GROUP BY batch", { db });
  const out = new Map<number, [number, number]>();
  for (const s of r.results[0].series ?? []) {
    out.set(Number(s.tags.batch.slice(1)), [Number(s.values[0][1]), Number(s.values[0][2])]);
  }
  return out;
}

/** Every batch of `acked` is whole in `got`. */
function assertWhole(got: Map<number, [number, number]>, acked: Iterable<number>, what: string) {
  for (const b of acked) {
    assert.deepEqual(got.get(b), [BATCH, BATCH * b], `${what}: batch ${b}`);
  }
}

async function setUp(url: string): Promise<void> {
  for (
    const q of [
      "CREATE DATABASE load",
      "CREATE RETENTION POLICY forever ON load DURATION INF REPLICATION 1",
      "CREATE USER admin WITH PASSWORD 'pw-admin' WITH ALL PRIVILEGES",
      "CREATE USER reader WITH PASSWORD 'pw-reader'",
      "GRANT READ ON load TO reader",
    ]
  ) {
    const r = await query(url, q);
    assert.equal(r.results[0].error, undefined, `${q}: ${JSON.stringify(r)}`);
  }
  const w = await fetch(`${url}/write?db=load&rp=forever`, {
    method: "POST",
    body: 'kept,k=1 big=9223372036854775807i,u=18446744073709551615u,s="x" 1\n',
  });
  assert.equal(w.status, 204, await w.text());
}

async function backupUnderLoad(
  nodes: ServerProcess[],
  out: string,
): Promise<{ writers: Writers; ackedBefore: number[]; stderr: string }> {
  const urls = nodes.map((n) => n.url);
  const writers = new Writers(urls, "load");
  writers.start(3);
  await writers.waitAcked(30);
  const ackedBefore = [...writers.acked];
  try {
    const run = await runCliOk(["backup", "--url", urls[urls.length - 1], "--out", out]);
    await writers.waitAcked(ackedBefore.length + 5); // writes went on during the backup
    return { writers, ackedBefore, stderr: run.stderr };
  } catch (error) {
    await writers.stop();
    throw error;
  }
}

async function checkRestored(url: string, ackedBefore: number[]): Promise<void> {
  assertWhole(await batches(url, "load"), ackedBefore, "restored");
  const kept = await query(url, "SELECT * FROM kept", { db: "load", rp: "forever", epoch: "ns" });
  assert.deepEqual(kept.results[0].series[0].values, [[
    1,
    9223372036854775807n,
    "1",
    "x",
    18446744073709551615n,
  ]]);
  const rps = await query(url, "SHOW RETENTION POLICIES ON load");
  assert.deepEqual(
    rps.results[0].series[0].values.map((v: unknown[]) => v[0]).sort(),
    ["autogen", "forever"],
  );
  const users = await query(url, "SHOW USERS");
  assert.deepEqual(users.results[0].series[0].values, [["admin", true], ["reader", false]]);
  const grants = await query(url, "SHOW GRANTS FOR reader");
  assert.deepEqual(grants.results[0].series[0].values, [["load", "READ"]]);
}

Deno.test({
  name: "backup under load, incremental backup, restore into an empty node and under a new name",
  sanitizeResources: false,
  async fn() {
    // Heads are not flushed by themselves during the test: what the backup holds it flushed.
    // (A restart after the set-up flushes once, so every partition has files before.)
    const setup = await startServer();
    const out = await Deno.makeTempDir({ prefix: "epochnexus-backup-" });
    const started: ServerProcess[] = [setup];
    try {
      await setUp(setup.url);
      await setup.stop();
      const source = await startServer({ dataDir: setup.dataDir });
      started.push(source);
      const { writers, ackedBefore, stderr } = await backupUnderLoad([source], out);
      assert.match(stderr, /backup \d{8}T\d{6}Z of 2 databases/);
      await writers.stop();
      // Once the node is quiet (no flush or compaction to come), a backup after another sends
      // nothing: every segment file is the same, linked from the previous backup. A backup
      // flushes the heads first, and that flush may start a compaction: the node is let settle
      // after the first of these backups, as before it.
      await quiet(source.url);
      await runCliOk(["backup", "--url", source.url, "--out", out]);
      await quiet(source.url);
      await runCliOk(["backup", "--url", source.url, "--out", out]);
      await runCliOk(["backup", "--url", source.url, "--out", out]);
      const ids = (await Array.fromAsync(Deno.readDir(out))).map((e) => e.name)
        .filter((n) => /^\d{8}T/.test(n)).sort();
      assert.equal(ids.length, 4, ids.join(" "));
      const manifest = async (id: string) =>
        JSON.parse(await Deno.readTextFile(`${out}/${id}/manifest.json`));
      const [second, third] = [await manifest(ids[2]), await manifest(ids[3])];
      const bytes = (m: { partitions: { files: { size: number }[] }[] }) =>
        m.partitions.reduce((n, p) => n + p.files.reduce((k, f) => k + f.size, 0), 0);
      assert.ok(bytes(second) > 0);
      assert.equal(third.incrementalOf, ids[2]);
      assert.deepEqual([third.receivedBytes, third.linkedBytes], [0, bytes(second)]);
      const backups = ids;

      // The first backup into an empty node: everything acknowledged before it began.
      const empty = await startServer();
      started.push(empty);
      const firstId = backups[0];
      const restored = await runCliOk([
        "restore",
        "--url",
        empty.url,
        "--from",
        out,
        "--backup",
        firstId,
        "--progress",
        "false",
      ]);
      assert.match(restored.stderr, /0 refused/, restored.stderr);
      await checkRestored(empty.url, ackedBefore);

      // The newest backup under a new name beside the original, on the source itself.
      const beside = await runCliOk([
        "restore",
        "--url",
        source.url,
        "--from",
        out,
        "--db",
        "load",
        "--newdb",
        "load2",
        "--progress",
        "false",
      ]);
      assert.match(beside.stderr, /load as load2/);
      assertWhole(await batches(source.url, "load2"), ackedBefore, "load2");

      // A database holding data is not restored over.
      const refused = await runCli(["restore", "--url", source.url, "--from", out, "--db", "load"]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /HTTP 409: database load exists and holds data/);
    } finally {
      for (const s of started) await s.stop();
      await Deno.remove(out, { recursive: true });
      await Deno.remove(setup.dataDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cluster: a backup through any node of three, restored into a one-node cluster",
  sanitizeResources: false,
  async fn() {
    const env = { EPOCHNEXUS_FLUSH_HEAD_BYTES: "262144", EPOCHNEXUS_REPLICATION_FACTOR: "2" };
    const first = await startServer({ env });
    const nodes = [first];
    const out = await Deno.makeTempDir({ prefix: "epochnexus-backup-" });
    let target: ServerProcess | undefined;
    try {
      for (let i = 0; i < 2; i++) {
        nodes.push(
          await startServer({
            env: { ...env, EPOCHNEXUS_JOIN_ADDRESS: `127.0.0.1:${first.port}` },
          }),
        );
      }
      await setUp(first.url);
      const { writers, ackedBefore } = await backupUnderLoad(nodes, out);
      await writers.stop();
      target = await startServer();
      const restored = await runCliOk(["restore", "--url", target.url, "--from", out]);
      assert.match(restored.stderr, /0 refused/, restored.stderr);
      await checkRestored(target.url, ackedBefore);
    } finally {
      for (const n of nodes) await n.stop();
      await target?.stop();
      await Deno.remove(out, { recursive: true });
    }
  },
});
