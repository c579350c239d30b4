/**
 * A log of JSON lines (the access log) written without holding up requests: lines gather in a
 * buffer that one write at a time drains, at most every `flushMs` or once it holds 64 KiB.
 * When the disk falls behind by more than `maxBufferedBytes`, further lines are dropped and
 * counted (the count is written as a line of its own once the log catches up), so a slow disk
 * never grows the server's memory or slows its answers.
 * @module
 */

/** An open JSON-lines log. */
export interface JsonLineLog {
  /** Adds a record (`time` is put first). */
  write(record: Record<string, unknown>): void;
  /** Writes what is buffered and closes the file. */
  close(): Promise<void>;
}

/** Options of {@linkcode openJsonLineLog}. */
export interface JsonLineLogOptions {
  /** Longest a line waits in the buffer, in ms. @default {200} */
  flushMs?: number;
  /** Bytes that may wait for the disk before lines are dropped. @default {8 MiB} */
  maxBufferedBytes?: number;
}

const FLUSH_BYTES = 64 * 1024;

/** Opens `target` (a file, appended to and created with mode 0600; or `stderr`). */
export async function openJsonLineLog(
  target: string,
  options: JsonLineLogOptions = {},
): Promise<JsonLineLog> {
  const flushMs = options.flushMs ?? 200;
  const maxBuffered = options.maxBufferedBytes ?? 8 * 1024 * 1024;
  const file = target === "stderr"
    ? undefined
    : await Deno.open(target, { append: true, create: true, mode: 0o600 });
  const out: { write(p: Uint8Array): Promise<number> } = file ?? Deno.stderr;
  const encoder = new TextEncoder();
  let lines: string[] = [];
  let buffered = 0;
  let dropped = 0;
  let writing: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const drain = async () => {
    while (lines.length > 0) {
      if (dropped > 0) {
        lines.push(JSON.stringify({ time: new Date().toISOString(), dropped_lines: dropped }));
        dropped = 0;
      }
      const bytes = encoder.encode(lines.join(""));
      lines = [];
      buffered = 0;
      let written = 0;
      while (written < bytes.length) written += await out.write(bytes.subarray(written));
    }
  };
  const kick = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (writing) return;
    writing = drain().catch((error) => {
      console.error(`access log ${target}: ${error}`);
    }).finally(() => {
      writing = undefined;
      if (lines.length > 0) arm();
    });
  };
  const arm = () => {
    if (timer !== undefined || writing) return;
    const t = setTimeout(kick, flushMs);
    Deno.unrefTimer(t);
    timer = t;
  };
  return {
    write(record) {
      const line = JSON.stringify({ time: new Date().toISOString(), ...record }) + "\n";
      if (buffered + line.length > maxBuffered) {
        dropped++;
        return;
      }
      lines.push(line);
      buffered += line.length;
      if (buffered >= FLUSH_BYTES) kick();
      else arm();
    },
    async close() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      while (writing) await writing;
      await drain().catch(() => {});
      file?.close();
    },
  };
}
