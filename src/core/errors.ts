/**
 * One error family for the whole code base. Every error that crosses a room's door is an
 * {@linkcode EpochError} carrying a {@linkcode ErrorCode}; one table ({@linkcode httpStatusOf})
 * maps codes to HTTP statuses, so handlers never pick statuses by hand.
 *
 * Codes are the Connect/gRPC code names, so the same error maps to a `ConnectError` unchanged.
 *
 * Programming errors are not EpochErrors: they throw `Error("BUG: ...")` and fail loudly.
 *
 * @module
 */

/** Connect/gRPC status code names, as used on the wire by Connect. */
export type ErrorCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated";

/** Options shared by every {@linkcode EpochError}. */
export interface EpochErrorOptions {
  /** The underlying error, kept for logs. */
  cause?: unknown;
  /** Extra machine-readable facts (line, column, file, offset ...) added to JSON answers. */
  details?: Record<string, unknown>;
  /** HTTP status override for the rare code that maps to more than one status (413, 415, 422). */
  httpStatus?: number;
  /** Seconds a client should wait before retrying (overload). */
  retryAfterSeconds?: number;
}

/** The base of every expected error: bad input, missing things, overload, corruption. */
export class EpochError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly httpStatus: number;
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, options: EpochErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "EpochError";
    this.code = code;
    this.details = options.details ?? {};
    this.httpStatus = options.httpStatus ?? HTTP_STATUS_BY_CODE[code];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Input that cannot be parsed; `line` and `column` are 1-based when known. */
export class ParseError extends EpochError {
  readonly line?: number;
  readonly column?: number;
  constructor(
    message: string,
    options: EpochErrorOptions & { line?: number; column?: number } = {},
  ) {
    super("invalid_argument", message, {
      ...options,
      details: { ...options.details, line: options.line, column: options.column },
    });
    this.name = "ParseError";
    this.line = options.line;
    this.column = options.column;
  }
}

/** Input that parses but breaks a rule (types, ranges, schemas). */
export class ValidationError extends EpochError {
  constructor(message: string, options: EpochErrorOptions = {}) {
    super("invalid_argument", message, options);
    this.name = "ValidationError";
  }
}

/** Something named does not exist (database, measurement, retention policy ...). */
export class NotFoundError extends EpochError {
  constructor(message: string, options: EpochErrorOptions = {}) {
    super("not_found", message, options);
    this.name = "NotFoundError";
  }
}

/** A request without valid credentials where the server requires them (HTTP 401). */
export class UnauthenticatedError extends EpochError {
  constructor(message: string, options: EpochErrorOptions = {}) {
    super("unauthenticated", message, options);
    this.name = "UnauthenticatedError";
  }
}

/** An authenticated caller without the privilege a request needs (HTTP 403). */
export class PermissionDeniedError extends EpochError {
  constructor(message: string, options: EpochErrorOptions = {}) {
    super("permission_denied", message, options);
    this.name = "PermissionDeniedError";
  }
}

/** A request body or result beyond a configured limit (HTTP 413). */
export class TooLargeError extends EpochError {
  constructor(message: string, options: EpochErrorOptions = {}) {
    super("resource_exhausted", message, { httpStatus: 413, ...options });
    this.name = "TooLargeError";
  }
}

/** The server is busy; the client should retry after `retryAfterSeconds` (HTTP 429). */
export class OverloadError extends EpochError {
  constructor(message: string, options: EpochErrorOptions = {}) {
    super("resource_exhausted", message, { retryAfterSeconds: 1, ...options });
    this.name = "OverloadError";
  }
}

/**
 * Bytes on disk that fail their checksum or framing. Recovery code matches on this class;
 * `file` and `offset` say where, so an operator can inspect or repair the file.
 */
export class CorruptionError extends EpochError {
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, why: string, options: EpochErrorOptions = {}) {
    super("data_loss", `corrupt data in ${file} at offset ${offset}: ${why}`, {
      ...options,
      details: { ...options.details, file, offset },
    });
    this.name = "CorruptionError";
    this.file = file;
    this.offset = offset;
  }
}

/** An operating-system level storage failure (disk full, permission, IO error). */
export class StorageError extends EpochError {
  constructor(message: string, options: EpochErrorOptions = {}) {
    super("unavailable", message, { retryAfterSeconds: 5, ...options });
    this.name = "StorageError";
  }
}

/** The one table from error code to HTTP status. */
export const HTTP_STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  canceled: 499,
  unknown: 500,
  invalid_argument: 400,
  deadline_exceeded: 504,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  resource_exhausted: 429,
  failed_precondition: 400,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500,
  unauthenticated: 401,
};

/** The HTTP status for any thrown value: EpochErrors by their code, anything else 500. */
export function httpStatusOf(error: unknown): number {
  return error instanceof EpochError ? error.httpStatus : 500;
}

/** A readable message for any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
