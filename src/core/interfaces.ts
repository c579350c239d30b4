/**
 * The interfaces through which the deterministic core reaches the outside world. Only
 * `src/runtime/` implements them with `Deno.*`; tests and simulations pass their own.
 *
 * @module
 */

/** A source of time. Never call `Date.now()` outside `src/runtime/`. */
export interface Clock {
  /** Milliseconds since the epoch (wall clock). */
  nowMs(): number;
  /** The current wall-clock time in int64 nanoseconds (used for `now()` in queries). */
  nowNanos(): bigint;
  /** A monotonic reading in milliseconds, for measuring durations. */
  monotonicMs(): number;
}

/** A source of randomness. Never call `Math.random()` outside `src/runtime/`. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
}

/** An open file. Writes go at the current position (appends when opened with `append`). */
export interface FileHandle {
  write(data: Uint8Array): Promise<number>;
  /** Reads into `buffer` at the current position; null at end of file. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Moves the position; returns the new position. */
  seek(offset: number, whence: "start" | "current" | "end"): Promise<number>;
  /**
   * Optional: reads up to `buffer.length` bytes at `position` synchronously (moving the position);
   * returns the bytes read, 0 at end of file. For small reads of immutable files (segment blocks),
   * where an async seek and read cost two thread-pool round trips each and a page-cache read
   * takes microseconds.
   */
  readAtSync?(buffer: Uint8Array, position: number): number;
  /** Flushes data (not necessarily metadata) to stable storage: fdatasync. */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): void;
}

/** Options for {@linkcode FileSystem.open}. */
export interface OpenOptions {
  read?: boolean;
  write?: boolean;
  append?: boolean;
  create?: boolean;
  truncate?: boolean;
}

/** What a file system entry is. */
export interface FileInfo {
  size: number;
  isFile: boolean;
  isDirectory: boolean;
  /** Last modification, ms since the epoch, where the file system tells it. */
  mtimeMs?: number;
}

/** The file operations the storage engine needs. Paths are plain strings joined with "/". */
export interface FileSystem {
  open(path: string, options: OpenOptions): Promise<FileHandle>;
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Writes a whole file atomically and durably: temp file, fsync, rename, fsync of the directory
   * (core's `writeFileAtomically`).
   */
  writeFileAtomic(path: string, data: Uint8Array): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** Entry names (not paths) in a directory, sorted. */
  readDir(path: string): Promise<string[]>;
  /**
   * Creates a folder and its missing parents, durably: the folder holding each new one is
   * fsynced (core's `makeDirectoryDurably`), so files fsynced inside it survive a power loss.
   */
  mkdir(path: string): Promise<void>;
  /** null when nothing exists at `path`. */
  stat(path: string): Promise<FileInfo | null>;
  /**
   * The canonical absolute path of `path`, every symlink, `.` and `..` resolved (realpath(3));
   * null when nothing exists there. What confines a file to a folder is this path, not the name.
   */
  realPath(path: string): Promise<string | null>;
  /** fsyncs a directory so that renames and creations in it are durable. */
  syncDir(path: string): Promise<void>;
}

/** Structured logging; `fields` are printed as key=value pairs. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/**
 * A raw two-way byte connection: a socket switched away from HTTP by an `Upgrade` (a peer
 * stream between cluster nodes, src/rpc/peer_stream.ts).
 */
export interface ByteChannel {
  /** Writes all of `bytes`, after every earlier write; rejects when the connection is gone. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Delivers what arrives: each chunk (the receiver's to keep) to `onData`, then `onEnd` once
   * when the connection ends (with the error, if it failed).
   */
  start(onData: (chunk: Uint8Array) => void, onEnd: (error?: Error) => void): void;
  /** Closes the connection; `onEnd` follows. */
  close(): void;
}

/** What an HTTP `Upgrade` request got: the switched connection, or the server's refusal. */
export type UpgradeOutcome =
  | { status: 101; channel: ByteChannel; body?: undefined }
  | { status: number; body: string; channel?: undefined };

/**
 * Opens a connection to `url` (http: or https:, host and port; the path is the request's) and
 * asks the server to switch it to `protocol`. Rejects when no answer comes within `timeoutMs`.
 */
export type UpgradeDialer = (request: {
  url: string;
  protocol: string;
  headers: Record<string, string>;
  timeoutMs: number;
}) => Promise<UpgradeOutcome>;

/** An `Upgrade` request a server received. */
export interface UpgradeRequest {
  path: string;
  /** The `Upgrade` header. */
  protocol: string;
  headers: Headers;
  /** `host:port` of the caller, when the server tells it. */
  remoteAddr?: string;
}

/** A server's answer to an `Upgrade`: take the connection (101), or refuse it with a status. */
export type UpgradeAnswer =
  | { status: 101; serve(channel: ByteChannel): void; body?: undefined }
  | { status: number; body: string; serve?: undefined };

/** Decides an `Upgrade` request (the server writes the answer). */
export type UpgradeHandler = (request: UpgradeRequest) => UpgradeAnswer;

/**
 * A request as the server read it, for a handler that answers it without fetch's `Request` and
 * `Response` (the direct path of `GET` and form `POST /query`, `App.direct` in
 * src/http/app.ts): building, reading and writing those objects is a large part of a small
 * query's cost.
 */
export interface PlainRequest {
  method: string;
  /** The URL as the server resolved it (scheme, Host header and target). */
  url: URL;
  /** Header values by name, case-insensitively; repeated headers joined with ", ". */
  headers: { get(name: string): string | null };
  /** `host:port` of the caller. */
  remoteAddr?: string;
  /** Aborts when the client goes away before the answer is written. */
  signal: AbortSignal;
  /**
   * A `POST`'s body, read whole before the handler was asked (only bodies of a small declared
   * length come this way; a GET's body is never read).
   */
  body?: Uint8Array;
}

/** A whole answer: its status, headers (lower-case names) and bytes. */
export interface PlainAnswer {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array<ArrayBuffer>;
  /**
   * Called once by the server: with false when the answer was handed to the connection, with
   * true when it was dropped because the client had gone (the access log's `aborted`).
   */
  sent?: (aborted: boolean) => void;
}

/**
 * Answers a request directly (a plain answer, or a `Response` when it streams or failed), or
 * returns undefined at once for the request to take the fetch path.
 */
export type DirectHandler = (
  request: PlainRequest,
) => Promise<PlainAnswer | Response> | undefined;
