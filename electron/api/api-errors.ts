// Errors in OpenAI's shape (`{error:{message,type,param,code}}`) so every OpenAI client raises
// its own typed error (AuthenticationError, BadRequestError, ...) with our message.
import { httpStatusOf, type AppError, type ErrorCode } from '../shared/errors';

export type OpenAiErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'not_found_error' | 'rate_limit_error' | 'server_error';

export interface OpenAiErrorBody {
  error: { message: string; type: OpenAiErrorType; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: OpenAiErrorType,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null): ApiError =>
  new ApiError(400, message, 'invalid_request_error', code, param);

/** OpenAI's type and code strings; the status comes from the one table (HTTP_STATUS_OF). */
const OPENAI_ERROR: Partial<Record<ErrorCode, [OpenAiErrorType, string]>> = {
  INVALID_INPUT: ['invalid_request_error', 'invalid_request'],
  IMAGE_INVALID: ['invalid_request_error', 'invalid_image'],
  IMAGE_TOO_LARGE: ['invalid_request_error', 'image_too_large'],
  CONTEXT_FULL: ['invalid_request_error', 'context_length_exceeded'],
  NOT_FOUND: ['not_found_error', 'not_found'],
  FORBIDDEN: ['permission_error', 'forbidden'],
  NO_MODEL: ['server_error', 'model_not_loaded'],
  MODEL_INVALID: ['server_error', 'model_not_loaded'],
  MODEL_LOAD_FAILED: ['server_error', 'model_not_loaded'],
  ENGINE_BUSY: ['rate_limit_error', 'engine_busy'],
};

/** /rpc's status, except that OpenAI answers 400 (BadRequestError) where /rpc says 422. */
export const apiStatusOf = (error: AppError): number => {
  const status = httpStatusOf(error);
  return status === 422 ? 400 : status;
};

/** Maps an engine/backend error to the status an OpenAI client expects. */
export function fromAppError(error: AppError, param: string | null = null): ApiError {
  const status = apiStatusOf(error);
  const [type, code] = OPENAI_ERROR[error.code] ?? [status >= 500 ? ('server_error' as const) : ('invalid_request_error' as const), error.code.toLowerCase()];
  const headers: Record<string, string> = status === 503 || status === 429 ? { 'Retry-After': '1' } : {};
  return new ApiError(status, error.message, type, code, param, headers);
}
