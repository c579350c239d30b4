/**
 * The differential tests' data: deterministic line protocol (seconds precision) over six hours,
 * cut into batches that are written in the same order to every system. Each batch is ten
 * minutes of data, the batches out of time order, then a batch that overwrites one field of
 * some points in two stretches of time (the last write wins per series, field and time), so a
 * system that flushes each batch holds several segments per series and shard group, most of them
 * side by side in time and some overlapping.
 * @module
 */

/** 2023-03-15T00:00:00Z. */
export const START_S = 1678838400;
export const HOURS = 6;
/** Minutes per batch. */
const BATCH_MINUTES = 10;

/** Host, region, and the minutes it reports in (gaps and series that start and stop). */
const HOSTS: [string, string, (minute: number) => boolean][] = [
  ["h1", "us-east", () => true],
  ["h2", "us-east", () => true],
  ["h3", "eu-west", (m) => m % 7 !== 3], // gaps, so fill() matters
  ["h4", "eu-west", (m) => m >= 130 && m < 250 && (m < 170 || m >= 200)], // hours 2-4, a hole
];

/**
 * Series of `disk` with some tag keys missing, and the minutes each reports in (every half hour
 * where it does): GROUP BY * and SLIMIT order tag sets whose keys differ, across shard groups
 * that hold different series.
 */
const DISKS: [string, (minute: number) => boolean][] = [
  [",host=h1,path=/", () => true],
  [",host=h2", (m) => m < 180],
  [",path=/var", (m) => m >= 60],
  ["", (m) => m % 60 === 0],
  [",host=h3,path=/", (m) => m >= 120 && m < 240],
];

/** The line protocol, batch by batch, in write order. */
export function batches(): string[][] {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const byMinute: string[][] = [];
  const sent = new Map<string, bigint>();
  for (let minute = 0; minute < HOURS * 60; minute++) {
    const lines: string[] = [];
    const t = START_S + minute * 60;
    for (const [host, region, reports] of HOSTS) {
      if (!reports(minute)) continue;
      const user = Math.round(random() * 10000) / 100;
      const system = Math.round(random() * 5000) / 100;
      const cores = 2 + Math.floor(random() * 6);
      const status = random() > 0.8 ? "degraded" : "ok";
      const up = random() > 0.1 ? "true" : "false";
      // A counter beyond 2^53, so values, sums and differences must stay exact int64 (sums of
      // up to a few hundred points do not overflow).
      const bytes = (sent.get(host) ?? 2n ** 53n) + BigInt(Math.floor(random() * 1e6));
      sent.set(host, bytes);
      lines.push(
        `cpu,host=${host},region=${region} usage_user=${user},usage_system=${system},` +
          `cores=${cores}i,status="${status}",up=${up},bytes_sent=${bytes}i ${t}`,
      );
    }
    if (minute % 10 === 0) {
      lines.push(`mem,host=h1 used=${minute * 1024}i,free=${1e6 - minute}i ${t}`);
    }
    if (minute % 30 === 0) {
      for (const [i, [tags, reports]] of DISKS.entries()) {
        if (reports(minute)) {
          lines.push(`disk${tags} used=${minute + i}i,pct=${i + minute / 8} ${t}`);
        }
      }
    }
    byMinute.push(lines);
  }
  // Out of time order, shard groups interleaved. In each group the first four batches are the
  // last 40 minutes, which compaction merges into one segment; the two batches before them in
  // time come after, so the segments of a series are side by side and whole blocks read from
  // their statistics.
  const chunk = (hour: number, c: number) =>
    byMinute.slice((hour * 6 + c) * BATCH_MINUTES, (hour * 6 + c + 1) * BATCH_MINUTES).flat();
  const written: string[][] = [];
  for (const c of [3, 2, 5, 4, 1, 0]) {
    for (const hour of [2, 0, 5, 3, 1, 4]) written.push(chunk(hour, c));
  }
  // Overwrites: usage_user of every third cpu point of two stretches, in one batch across two
  // shard groups; elsewhere the blocks of different segments do not overlap.
  const overwritten = (minute: number) => (minute >= 70 && minute < 95) || minute >= 300;
  const overwrites = byMinute.flatMap((lines, minute) =>
    overwritten(minute) ? lines.filter((l, i) => l.startsWith("cpu") && (minute + i) % 3 === 0) : []
  ).map((line) => {
    const [series, , time] = line.split(" ");
    return `${series} usage_user=${(Number(time) % 997) / 10} ${time}`;
  });
  return [...written, overwrites];
}

/** The hour-long shard groups each batch writes to (by index into the batch list). */
export function groupsOf(batch: string[]): Set<number> {
  return new Set(batch.map((line) => Math.floor((Number(line.split(" ")[2]) - START_S) / 3600)));
}
