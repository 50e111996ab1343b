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
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface AppError {
  code: ErrorCode;
  message: string;
  /** Extra facts for logs and support (file path, signal, ...); never shown as the main message. */
  detail?: string;
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

/** Turns anything thrown into an AppError without leaking stack traces to the UI. */
export function toAppError(err: unknown, fallback: ErrorCode = 'INTERNAL'): AppError {
  if (err instanceof AppErrorException) return err.error;
  if (isAppError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return { code: fallback, message };
}
