/**
 * Which nodes a gateway copy sends requests to, in what order: round robin over the nodes that
 * answer, the preferred one (a write's likely partition leader) first. A node whose connection
 * failed is skipped for `downMs`, then pinged before it gets a request again.
 * @module
 */
import type { Clock } from "../core/mod.ts";
import type { GatewayNode } from "./cluster_view.ts";

/** Options of {@linkcode NodeHealth}. */
export interface NodeHealthOptions {
  downMs: number;
  /** Timeout of the ping that checks a node coming back. @default {1000} */
  pingTimeoutMs?: number;
  clock: Clock;
  fetch: typeof globalThis.fetch;
}

/** The liveness marks and the round-robin position of one gateway copy. */
export class NodeHealth {
  readonly #options: NodeHealthOptions;
  /** HTTP base URL -> monotonic time until which it is skipped. */
  readonly #downUntil = new Map<string, number>();
  #next = 0;

  constructor(options: NodeHealthOptions) {
    this.#options = options;
  }

  /** Skips the node for `downMs` (its connection failed). */
  markDown(node: GatewayNode): void {
    this.#downUntil.set(node.http, this.#options.clock.monotonicMs() + this.#options.downMs);
  }

  /** Whether the node is marked down and its mark has not passed yet. */
  isMarkedDown(node: GatewayNode): boolean {
    const until = this.#downUntil.get(node.http);
    return until !== undefined && this.#options.clock.monotonicMs() < until;
  }

  /**
   * The nodes to try, in order: up nodes rotated by one each call (the preferred first), then
   * nodes whose down mark has passed and that answer a ping now. Nodes still marked down are not
   * tried: a request waits for no connection known to fail.
   */
  async *order(nodes: GatewayNode[], preferred?: number): AsyncGenerator<GatewayNode> {
    const start = nodes.length > 0 ? this.#next++ % nodes.length : 0;
    const rotated = [...nodes.slice(start), ...nodes.slice(0, start)];
    const first = rotated.findIndex((n) => n.id === preferred);
    if (first > 0) rotated.unshift(...rotated.splice(first, 1));
    const returning: GatewayNode[] = [];
    for (const node of rotated) {
      if (!this.#downUntil.has(node.http)) yield node;
      else if (!this.isMarkedDown(node)) returning.push(node);
    }
    for (const node of returning) {
      if (await this.ping(node)) yield node;
    }
  }

  /** GET /ping within the timeout; marks the node up or down by the outcome. */
  async ping(node: GatewayNode): Promise<boolean> {
    const timeout = AbortSignal.timeout(this.#options.pingTimeoutMs ?? 1000);
    try {
      const r = await this.#options.fetch(`${node.http}/ping`, { signal: timeout });
      await r.body?.cancel();
      if (r.status !== 204) throw new Error(`status ${r.status}`);
      this.#downUntil.delete(node.http);
      return true;
    } catch {
      this.markDown(node);
      return false;
    }
  }
}
