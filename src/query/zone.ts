/**
 * Time zones for `tz('Region/City')`: UTC offsets from the IANA database through
 * Intl.DateTimeFormat (deterministic: a pure function of zone and instant), cached per zone and
 * quarter hour, and RFC3339 formatting with the offset (`2023-03-14T20:00:00-04:00`, `Z` for a
 * zero offset), as Go's time.RFC3339Nano prints a time in a location.
 *
 * @module
 */
import { ParseError } from "../core/errors.ts";
import { formatRFC3339Nano } from "../core/time.ts";

const FORMATS = new Map<string, Intl.DateTimeFormat>();
const OFFSETS = new Map<string, Map<number, number>>();
const QUARTER_HOUR_MS = 900_000;

function formatOf(zone: string): Intl.DateTimeFormat | undefined {
  let f = FORMATS.get(zone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" });
    } catch {
      return undefined;
    }
    FORMATS.set(zone, f);
  }
  return f;
}

/** True when `zone` names a time zone of the IANA database. */
export function isTimeZone(zone: string): boolean {
  return zone !== "" && formatOf(zone) !== undefined;
}

/**
 * Checks a tz() argument. @throws {ParseError} with InfluxDB's text (`unable to find time zone X`).
 */
export function checkTimeZone(zone: string): void {
  if (!isTimeZone(zone)) throw new ParseError(`unable to find time zone ${zone}`);
}

/** The zone's UTC offset in ms at a UTC instant (ms). */
export function zoneOffsetMs(zone: string, utcMs: number): number {
  let cache = OFFSETS.get(zone);
  if (cache === undefined) OFFSETS.set(zone, cache = new Map());
  // Offsets change on quarter-hour boundaries in every zone in use.
  const slot = Math.floor(utcMs / QUARTER_HOUR_MS);
  let off = cache.get(slot);
  if (off === undefined) {
    off = computeOffset(zone, slot * QUARTER_HOUR_MS);
    if (cache.size > 100_000) cache.clear();
    cache.set(slot, off);
  }
  return off;
}

function computeOffset(zone: string, utcMs: number): number {
  const f = formatOf(zone);
  if (f === undefined) throw new ParseError(`unable to find time zone ${zone}`);
  const name = f.formatToParts(new Date(utcMs)).find((p) => p.type === "timeZoneName")?.value ??
    "GMT";
  const m = /^GMT([+-])(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(name);
  if (m === null) return 0;
  const sign = m[1] === "-" ? -1 : 1;
  return sign * ((Number(m[2]) * 60 + Number(m[3])) * 60 + Number(m[4] ?? 0)) * 1000;
}

/** RFC3339Nano of an instant shown in `zone`: local wall time and its offset. */
export function formatInZone(ms: number, subMs: number, zone: string): string {
  const off = zoneOffsetMs(zone, ms);
  const local = formatRFC3339Nano(ms + off, subMs);
  if (off === 0) return local;
  const abs = Math.abs(off) / 60_000;
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${local.slice(0, -1)}${off < 0 ? "-" : "+"}${hh}:${mm}`;
}
