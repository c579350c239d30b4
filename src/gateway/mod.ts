/**
 * The stateless query gateway: a fetch handler that plans SELECT queries itself over the
 * partitions of a cluster it learns over Connect, and routes the rest of the InfluxDB and native
 * APIs to its nodes. `main.ts` is its `deno serve` entry. It stands beside `src/http` (both are
 * doors) and reuses the node's /query handler over its own store, so its answers are a node's.
 * @module
 */
export { createGateway, type Gateway, GATEWAY_PLAN_HEADER, type GatewayDeps } from "./gateway.ts";
export { GATEWAY_ENV, type GatewayConfig, gatewayConfigFromEnv } from "./config.ts";
export { isReadOnlyInfluxQL } from "./forward.ts";
