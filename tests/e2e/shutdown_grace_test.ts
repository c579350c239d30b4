/**
 * A SIGTERM stops the server within its shutdown grace even while a peer holds a request open on
 * the node-to-node port (a peer stopping at the same moment may never finish one): the node is
 * closed first, so nothing acknowledged depends on that request.
 */
import assert from "node:assert/strict";
import { startServer } from "../_server.ts";

/** The server's grace (3 s, src/cli/serve.ts) and a wide margin for a loaded machine. */
const STOP_DEADLINE_MS = 20_000;

Deno.test({
  name: "e2e: SIGTERM stops the node within the grace while a request on its Raft port is open",
  sanitizeResources: false,
  fn: async () => {
    // Without the cap the stop would wait for this request's body until the body timeout (5 min).
    const server = await startServer({
      env: { EPOCHNEXUS_HTTP_BODY_PROGRESS_TIMEOUT_MS: "300000" },
    });
    const peer = await Deno.connect({ hostname: "127.0.0.1", port: server.raftPort });
    try {
      const head = "POST /epochnexus.v1.ClusterService/WritePartition HTTP/1.1\r\n" +
        "Host: 127.0.0.1\r\nContent-Type: application/proto\r\nContent-Length: 1000\r\n\r\nab";
      await peer.write(new TextEncoder().encode(head));
      // Let the server take the request in before the signal (reading one header from a
      // loopback socket; a wide margin for a loaded machine).
      await new Promise((r) => setTimeout(r, 1_000));
      const started = performance.now();
      let deadline: ReturnType<typeof setTimeout> | undefined;
      const stopped = await Promise.race([
        server.stop().then(() => true),
        new Promise<boolean>((r) => deadline = setTimeout(() => r(false), STOP_DEADLINE_MS)),
      ]);
      clearTimeout(deadline);
      if (!stopped) await server.kill9();
      assert.ok(
        stopped,
        `still running ${STOP_DEADLINE_MS} ms after SIGTERM: ${server.logs().slice(-600)}`,
      );
      assert.match(server.logs(), /node-to-node connections still open after the grace period/);
      console.log(`stopped in ${Math.round(performance.now() - started)} ms`);
    } finally {
      try {
        peer.close();
      } catch { /* closed by the server */ }
    }
  },
});
