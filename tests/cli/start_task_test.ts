/**
 * The README's first command, `deno task start`, on its embedded defaults (HTTP on 0.0.0.0:8080,
 * Raft on 0.0.0.0:8089), answering the seed's two curl examples as the README writes them.
 *
 * A wildcard bind must stay off the machine's network (tests use loopback only), so the server
 * and its curls run in a network namespace of their own (`unshare -rn`), where the only
 * interface is loopback. The start task once lacked a permission the wildcard bind needs (the
 * host name it advertises): every test server binds 127.0.0.1, and none saw it.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The README's commands: the first `sh` block's start line, and the seed's two curls. */
async function readmeCommands(): Promise<{ start: string; ingest: string; query: string }> {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const start = readme.match(/^npx --yes deno@[\d.]+ task start\b/m)?.[0];
  const curls = readme.match(/^curl -X POST -H "Content-Type: application\/json" .*$/gm) ?? [];
  const ingest = curls.find((c) => c.endsWith("/ingest"));
  const query = curls.find((c) => c.endsWith("/query"));
  assert.ok(start && ingest && query, "README: start command or seed curls not found");
  return { start, ingest, query };
}

Deno.test("README: `deno task start` on its defaults answers the seed's curl examples", async () => {
  const { start, ingest, query } = await readmeCommands();
  const dataDir = await Deno.makeTempDir({ prefix: "epochnexus_start_" });
  // The README's `npx --yes deno@2.9.6` is this same Deno; npx would ask the registry, which a
  // namespace without a network cannot reach.
  const task = start.replace(/^npx --yes deno@[\d.]+/, `"${Deno.execPath()}"`);
  const widened = query.replace("now() - 1h", "now() - 3000d");
  const script = `
ip link set lo up || exit 90
${task} > "${dataDir}/server.log" 2>&1 &
server=$!
up=no
for i in $(seq 1 240); do
  if curl -s -o /dev/null -w '%{http_code}' http://localhost:8080/ping | grep -q 204; then up=yes; break; fi
  kill -0 $server 2>/dev/null || break
  sleep 0.25
done
echo "up=$up"
if [ $up = yes ]; then
  echo "ingest=$(${ingest})"
  echo "query=$(${query})"
  echo "widened=$(${widened})"
fi
kill $server 2>/dev/null
wait $server 2>/dev/null
exit 0
`;
  const out = await new Deno.Command("unshare", {
    args: ["-rn", "sh", "-c", script],
    cwd: ROOT,
    env: { EPOCHNEXUS_DATA_DIR: dataDir },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const log = await Deno.readTextFile(`${dataDir}/server.log`).catch(() => "(no log)");
  assert.equal(out.code, 0, `unshare -rn: ${new TextDecoder().decode(out.stderr)}`);
  assert.match(text, /^up=yes$/m, `the server did not answer /ping on :8080:\n${log}`);
  assert.match(text, /^ingest=\{"accepted":1,"rejected":0\}$/m, text);
  // The seed's query asks for the last hour of a 2023 point: an answer, with no series.
  assert.match(text, /^query=\{"results":\[\{"statement_id":0\}\]\}$/m, text);
  assert.match(text, /^widened=.*"values":\[\[.*,0\.75\]\]/m, text);
  await Deno.remove(dataDir, { recursive: true });
});
