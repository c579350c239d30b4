/**
 * Sizes for people: the CLI's `cluster status` and the web console's cluster view show bytes the
 * same way. No imports: the console's bundle takes this file alone.
 * @module
 */

/** `1.5MiB`, one word (the CLI's table columns are read split on spaces); "-" when unknown. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) value /= 1024, unit++;
  return unit === 0 ? `${bytes}B` : `${value.toFixed(1)}${units[unit]}`;
}
