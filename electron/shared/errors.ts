// Errors cross every boundary (worker, IPC, HTTP) as plain data with a stable code.
export const ERROR_CODES = [
  'INVALID_INPUT',
  'FORBIDDEN',
  'NOT_FOUND',
  'NO_MODEL',
  'MODEL_INVALID',
  'MODEL_LOAD_FAILED',
  'IMAGE_INVALID',
  'IMAGE_TOO_LARGE',
  'CONTEXT_FULL',
  'ENGINE_BUSY',
  'ENGINE_CRASHED',
  'GENERATION_FAILED',
  'CANCELLED',
  'INTERNAL',
  /** The disk (or a quota) is full: nothing was lost, the write can be tried again. */
  'STORAGE_FULL',
  /** Another program holds the chat history's write lock (a backup tool, a second app). */
  'STORAGE_BUSY',
  /** Any other failed write or read of the data folder (read-only disk, I/O error). */
  'STORAGE_FAILED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface AppError {
  code: ErrorCode;
  message: string;
  /** Extra facts for logs and support (file path, signal, ...); never shown as the main message. */
  detail?: string;
  /** When to try again (ENGINE_BUSY); HTTP sends it as Retry-After. */
  retryAfterSeconds?: number;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: AppError };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (code: ErrorCode, message: string, detail?: string): { ok: false; error: AppError } => ({
  ok: false,
  error: detail === undefined ? { code, message } : { code, message, detail },
});

export class AppErrorException extends Error {
  constructor(readonly error: AppError) {
    super(error.message);
    this.name = 'AppErrorException';
  }
}

/** A failure with a stable reason for code and the action a person can take, shown after the message. */
export class ActionableError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly reason: string,
    message: string,
    readonly action: string | null = null,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toAppError(): AppError {
    return { code: this.code, message: this.action ? `${this.message} ${this.action}` : this.message };
  }
}

export function isAppError(value: unknown): value is AppError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AppError).message === 'string' &&
    (ERROR_CODES as readonly string[]).includes((value as AppError).code)
  );
}

/** HTTP status of each code on /rpc and (through api-errors.ts) /v1; the one table (anything unlisted is 422). */
export const HTTP_STATUS_OF: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  IMAGE_TOO_LARGE: 413,
  ENGINE_BUSY: 429,
  INTERNAL: 500,
  ENGINE_CRASHED: 500,
  GENERATION_FAILED: 500,
  // Until a model is (re)loaded: the client may try again.
  NO_MODEL: 503,
  MODEL_INVALID: 503,
  MODEL_LOAD_FAILED: 503,
  STORAGE_FAILED: 500,
  STORAGE_BUSY: 503,
  STORAGE_FULL: 507,
};
export const httpStatusOf = (error: AppError): number => HTTP_STATUS_OF[error.code] ?? 422;

const STORAGE_KIND: Record<string, 'STORAGE_FULL' | 'STORAGE_BUSY' | 'STORAGE_FAILED'> = {
  SQLITE_FULL: 'STORAGE_FULL',
  ENOSPC: 'STORAGE_FULL',
  EDQUOT: 'STORAGE_FULL',
  SQLITE_BUSY: 'STORAGE_BUSY',
  SQLITE_LOCKED: 'STORAGE_BUSY',
  SQLITE_IOERR: 'STORAGE_FAILED',
  SQLITE_READONLY: 'STORAGE_FAILED',
  SQLITE_CANTOPEN: 'STORAGE_FAILED',
  EROFS: 'STORAGE_FAILED',
  EIO: 'STORAGE_FAILED',
};
const STORAGE_MESSAGE = {
  STORAGE_FULL: 'The disk is full: it could not be saved. Free some space and try again.',
  STORAGE_BUSY: 'The chat history is locked by another program (a backup tool or a second copy of the app): it could not be saved. Try again in a moment.',
  STORAGE_FAILED: 'The data folder could not be written',
} as const;

/**
 * A failed write of the data folder (SQLite's SQLITE_FULL/BUSY/IOERR… or errno ENOSPC/EROFS…) as an
 * AppError with a message a person can act on; null for anything else. Duck-typed: this file is shared.
 */
export function storageErrorOf(err: unknown): AppError | null {
  if (err instanceof AppErrorException) return err.error.code.startsWith('STORAGE_') ? err.error : null;
  if (typeof err !== 'object' || err === null || typeof (err as { code?: unknown }).code !== 'string') return null;
  const raw = (err as { code: string }).code;
  // SQLite extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_WRITE…) share their primary's meaning.
  const kind = STORAGE_KIND[raw] ?? STORAGE_KIND[raw.split('_').slice(0, 2).join('_')];
  if (!kind) return null;
  const detail = `${raw}: ${(err as Error).message ?? ''}`.slice(0, 300);
  const message = kind === 'STORAGE_FAILED' ? `${STORAGE_MESSAGE.STORAGE_FAILED} (${detail}).` : STORAGE_MESSAGE[kind];
  return { code: kind, message, detail };
}

/** Turns anything thrown into an AppError without leaking stack traces to the UI. */
export function toAppError(err: unknown, fallback: ErrorCode = 'INTERNAL'): AppError {
  if (err instanceof AppErrorException) return err.error;
  if (isAppError(err)) return err;
  const storage = storageErrorOf(err);
  if (storage) return storage;
  const message = err instanceof Error ? err.message : String(err);
  return { code: fallback, message };
}
