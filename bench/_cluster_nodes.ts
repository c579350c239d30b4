/**
 * The cluster benches' shared steps: start a cluster of real nodes, and write to it as a client
 * does through leader changes.
 * @module
 */
import { type ServerProcess, startServer } from "../tests/_server.ts";

/** Starts `n` nodes: the first founds the cluster, the others join it. */
export async function startNodes(n: number): Promise<ServerProcess[]> {
  const env = { EPOCHNEXUS_FLUSH_IDLE_MS: "2000", EPOCHNEXUS_MAX_SERIES_PER_DATABASE: "0" };
  const first = await startServer({ env });
  const nodes = [first];
  for (let i = 1; i < n; i++) {
    nodes.push(
      await startServer({ env: { ...env, EPOCHNEXUS_JOIN_ADDRESS: `127.0.0.1:${first.port}` } }),
    );
  }
  await waitForMetaVoters(first.url, n);
  return nodes;
}

/** Waits (60 s at most) until `n` nodes, or 3, vote in the metadata group `url`'s node sees. */
export async function waitForMetaVoters(url: string, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const status = await (await fetch(`${url}/api/v1/cluster`)).json();
    const voters = status.nodes.filter((x: { meta: string }) => x.meta === "voter").length;
    if (voters >= Math.min(n, 3)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Writes a batch; a 503 (a partition electing or moving its leader), a 409 for a dropped
 * proposal (its entry was overwritten by a new leader: it never applies) or a 500 for a forward
 * that the leader's node cut as too slow (408: a starved coordinator, on a busy machine) is sent
 * again, as a client does (writes are idempotent), up to 50 times. Retries are counted, printed.
 */
export async function writeRetrying(
  url: string,
  body: BodyInit,
  onRetry: () => void = () => {},
): Promise<void> {
  for (let attempt = 0;; attempt++) {
    const r = await fetch(url, { method: "POST", body });
    const text = await r.text();
    if (r.ok) return;
    const transient = r.status === 503 || (r.status === 409 && /proposal dropped/.test(text)) ||
      (r.status === 500 && /HTTP 408/.test(text)); // a forward the leader's node found too slow
    if (!transient || attempt >= 50) throw new Error(`${url}: ${r.status} ${text}`);
    onRetry();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
