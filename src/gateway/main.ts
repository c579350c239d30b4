/**
 * The gateway as a module of `export default { fetch }`: `deno serve --allow-net
 * --allow-env=<GATEWAY_ENV> src/gateway/main.ts` (`deno task gateway`), or any host that runs
 * fetch handlers (Deno Deploy). It reads its environment once, when loaded: a bad setting stops
 * it at start with the variable named.
 * @module
 */
import { consoleLogger, environment, systemClock } from "../runtime/mod.ts";
import { createGateway, GATEWAY_ENV, gatewayConfigFromEnv } from "./mod.ts";

const gateway = createGateway(gatewayConfigFromEnv(environment(GATEWAY_ENV)), {
  clock: systemClock,
  logger: consoleLogger(),
});

export default { fetch: (request: Request) => gateway.fetch(request) };
