/**
 * Waiting on a node-style writable (a socket's response, an inflater) for room.
 * @module
 */

/** What {@linkcode drainedOrClosed} listens on: node's `on`/`off`. */
export interface DrainEmitter {
  on(event: "drain" | "close", listener: () => void): unknown;
  off(event: "drain" | "close", listener: () => void): unknown;
}

/**
 * Resolves at the writable's next `drain` or `close`, whichever comes first: a writer that was
 * told to wait goes on when there is room again, and never waits forever on one that ended.
 */
export function drainedOrClosed(writable: DrainEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      writable.off("drain", done);
      writable.off("close", done);
      resolve();
    };
    writable.on("drain", done);
    writable.on("close", done);
  });
}
