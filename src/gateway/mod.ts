/**
 * The stateless query gateway: a fetch handler that routes the InfluxDB and native APIs to the
 * nodes of a cluster it learns over Connect. `main.ts` is its `deno serve` entry.
 * @module
 */
export { createGateway, type Gateway, type GatewayDeps } from "./gateway.ts";
export { GATEWAY_ENV, type GatewayConfig, gatewayConfigFromEnv } from "./config.ts";
export { isReadOnlyInfluxQL } from "./forward.ts";
