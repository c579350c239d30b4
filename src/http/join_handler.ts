/**
 * `POST /api/v1/cluster/join`: a node asks to be admitted. With authentication on, the caller
 * is an admin (user or token) or presents the cluster secret (the gate checks); the answer
 * carries the cluster secret the new node's node-to-node calls must present.
 * @module
 */
import { NotFoundError, ValidationError } from "../core/mod.ts";
import type { JoinRequest } from "../cluster/mod.ts";
import type { AppContext } from "./app.ts";
import { json, nativeError } from "./responses.ts";

/** Admits a node (see the module comment). */
export async function handleJoin(ctx: AppContext, request: Request): Promise<Response> {
  if (!ctx.cluster) return nativeError(new NotFoundError("this node runs no cluster"));
  let body: Partial<JoinRequest>;
  try {
    body = await request.json();
  } catch (error) {
    return nativeError(new ValidationError(`join request is not JSON: ${error}`));
  }
  const { httpAddress, raftAddress, version, clusterId } = body;
  if (
    typeof httpAddress !== "string" || typeof raftAddress !== "string" ||
    typeof version !== "string" || typeof clusterId !== "string"
  ) {
    return nativeError(
      new ValidationError(
        "join request needs httpAddress, raftAddress, version and clusterId strings",
      ),
    );
  }
  try {
    const answer = await ctx.cluster.join({ httpAddress, raftAddress, version, clusterId });
    ctx.auth?.audit?.({ action: "join", node: answer.nodeId, raftAddress, httpAddress });
    return json(answer);
  } catch (error) {
    return nativeError(error);
  }
}
