/**
 * What a server start logs about opening its data, summed over the whole start: a node opens one
 * storage engine per partition replica, one after the other (src/cluster/node.ts), so a start
 * logs several `opened storage ... ms=` lines and several `opened partition replica ... replay=`
 * lines; a figure taken from the first of them would count one partition of many.
 * @module
 */

/** The start's figures, from its log lines. */
export interface StartLogFigures {
  /** `opened storage` lines (storage engines opened: one per partition replica). */
  storageOpens: number;
  /** Their `ms=` summed: the engines open one after the other. */
  storageMs: number;
  /** Their `segments=` summed. */
  segments: number;
  /** `replay=` of the `opened partition replica` lines summed: log entries to re-apply. */
  replayEntries: number;
  /** From `ports bound; starting` to `epochnexus listening`, by the log's timestamps (ms). */
  nodeStartMs: number | undefined;
}

const field = (line: string, name: string): number => {
  const m = new RegExp(`(?:^|\\s)${name}=(\\d+)(?:\\s|$)`).exec(line);
  if (!m) throw new Error(`log line without ${name}=: ${line}`);
  return Number(m[1]);
};

const stampMs = (line: string | undefined): number | undefined => {
  const stamp = line?.split(" ", 1)[0];
  const ms = stamp === undefined ? NaN : Date.parse(stamp);
  return Number.isFinite(ms) ? ms : undefined;
};

/** Sums every `opened storage` and `opened partition replica` line of one start's log. */
export function startLogFigures(log: string): StartLogFigures {
  const lines = log.split("\n");
  const figures: StartLogFigures = {
    storageOpens: 0,
    storageMs: 0,
    segments: 0,
    replayEntries: 0,
    nodeStartMs: undefined,
  };
  for (const line of lines) {
    if (/ opened storage( |$)/.test(line)) {
      figures.storageOpens++;
      figures.storageMs += field(line, "ms");
      figures.segments += field(line, "segments");
    } else if (/ opened partition replica( |$)/.test(line)) {
      figures.replayEntries += field(line, "replay");
    }
  }
  const bound = stampMs(lines.find((l) => / ports bound; starting( |$)/.test(l)));
  const listening = stampMs(lines.find((l) => / epochnexus listening( |$)/.test(l)));
  if (bound !== undefined && listening !== undefined) figures.nodeStartMs = listening - bound;
  return figures;
}

/** One line: `8 storage opens, 1234 ms summed, 16 segments, 3 entries to replay; node 1500 ms`. */
export function describeStartLog(f: StartLogFigures): string {
  return `${f.storageOpens} storage opens, ${f.storageMs} ms summed, ${f.segments} segments, ` +
    `${f.replayEntries} log entries to replay; node start ${f.nodeStartMs ?? "?"} ms (log)`;
}
