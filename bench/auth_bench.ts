/**
 * What logging in costs a request, in process (no socket): `POST /write` of 10 lines with
 * authentication off, on with HTTP Basic (the verification cache hit every request pays), on
 * with a Bearer API token (a SHA-256 per request), and one cold password verification (the
 * PBKDF2-SHA256 hash at 600,000 iterations, what a request pays on a cache miss).
 *
 *   deno bench -A bench/auth_bench.ts
 * @module
 */
import { AuthDirectory, verifyPassword } from "../src/auth/mod.ts";
import { MetaState } from "../src/cluster/meta/meta_state.ts";
import { silentLogger } from "../src/core/mod.ts";
import { createApp } from "../src/http/mod.ts";
import { denoFileSystem, randomBytes, systemClock } from "../src/runtime/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";

const engine = await StorageEngine.open({
  dir: await Deno.makeTempDir({ prefix: "epochnexus-auth-bench-" }),
  fs: denoFileSystem,
  clock: systemClock,
  logger: silentLogger,
});
await engine.createDatabase("bench");
await engine.createDatabase("epochnexus");
const meta = new MetaState();
meta.apply({ op: "add_node", httpAddress: "h:1", raftAddress: "r:1", version: "1" });
meta.apply({
  op: "create_database",
  name: "bench",
  partitions: 1,
  hash: "fnv1a64",
  hashKey: "series",
  replicationFactor: 1,
});
const directory = new AuthDirectory({
  meta: { table: () => meta.users, propose: (c) => Promise.resolve(meta.apply(c)) },
  clock: systemClock,
  randomBytes,
});
await directory.createUser("admin", "admin-pw", true);
await directory.createUser("telegraf", "telegraf-pw", false);
await directory.grant("telegraf", "bench", "WRITE");
const { token } = await directory.createToken({ databases: { bench: "WRITE" } }, "admin");
const storedHash = meta.users.users.get("telegraf")!.passwordHash;

const options = {
  engine,
  clock: systemClock,
  logger: silentLogger,
  defaultDatabase: "epochnexus",
  maxBodyBytes: 1_000_000,
};
const open = createApp({ ...options, auth: { enabled: false, directory } });
const guarded = createApp({ ...options, auth: { enabled: true, directory } });

let t = 1_700_000_000_000_000_000n;
function body(): string {
  const lines: string[] = [];
  for (let i = 0; i < 10; i++) lines.push(`cpu,host=h${i} usage=${i} ${t++}`);
  return lines.join("\n");
}
async function write(app: typeof open, headers: Record<string, string>): Promise<void> {
  const r = await app(
    new Request("http://node/write?db=bench", { method: "POST", body: body(), headers }),
  );
  if (r.status !== 204) throw new Error(`write answered ${r.status}: ${await r.text()}`);
}

Deno.bench("POST /write 10 lines, auth off", { group: "login", baseline: true }, async () => {
  await write(open, {});
});
Deno.bench(
  "POST /write 10 lines, auth on, Basic (cached verification)",
  { group: "login" },
  async () => {
    await write(guarded, { authorization: `Basic ${btoa("telegraf:telegraf-pw")}` });
  },
);
Deno.bench("POST /write 10 lines, auth on, Bearer API token", { group: "login" }, async () => {
  await write(guarded, { authorization: `Bearer ${token}` });
});
Deno.bench(
  "one cold password verification (PBKDF2-SHA256, 600k)",
  { n: 5, warmup: 1 },
  async () => {
    if (!(await verifyPassword("telegraf-pw", storedHash))) throw new Error("BUG: no match");
  },
);

// The login alone (what the gate adds to every request), without the write's fsync noise.
Deno.bench("authenticate: Basic, cached verification", { group: "authenticate" }, async () => {
  if (!(await directory.authenticatePassword("telegraf", "telegraf-pw"))) throw new Error("BUG");
});
Deno.bench("authenticate: Bearer API token", { group: "authenticate" }, async () => {
  if (!(await directory.authenticateToken(token))) throw new Error("BUG");
});
Deno.bench("GET /metrics, auth off", { group: "gate", baseline: true }, async () => {
  await (await open(new Request("http://node/metrics"))).body?.cancel();
});
Deno.bench("GET /metrics, auth on, Basic (cached)", { group: "gate" }, async () => {
  const headers = { authorization: `Basic ${btoa("telegraf:telegraf-pw")}` };
  await (await guarded(new Request("http://node/metrics", { headers }))).body?.cancel();
});
