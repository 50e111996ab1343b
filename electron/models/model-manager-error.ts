// The model manager's failures: a stable code, what went wrong and what the user can do, and how a
// downloader failure reads on a download job.
import type { DownloadJob } from '../shared/contracts/models';
import { ActionableError, type ErrorCode } from '../shared/errors';
import { DownloadError } from './download-error';

export class ModelManagerError extends ActionableError {}

export function downloadErrorAction(err: DownloadError, licenseUrl: string | null): { code: ErrorCode; action: string | null } {
  switch (err.code) {
    case 'GATED':
      return { code: 'FORBIDDEN', action: null }; // the message already says what to do
    case 'NOT_FOUND':
      return { code: 'NOT_FOUND', action: 'Check the repository and file name.' };
    case 'CHECKSUM_MISMATCH':
    case 'SIZE_MISMATCH':
      return { code: 'MODEL_INVALID', action: 'Pull it again; if it keeps failing, the source changed or the checksum is wrong.' };
    case 'NETWORK':
      return { code: 'INTERNAL', action: 'Check the connection and resume: the bytes so far are kept.' };
    case 'ABORTED':
      return { code: 'CANCELLED', action: null };
    default:
      return { code: 'INTERNAL', action: licenseUrl ? `See ${licenseUrl}.` : null };
  }
}

export function fromDownloadError(err: DownloadError, licenseUrl: string | null, actionOverride?: string | null): ModelManagerError {
  const { code, action } = downloadErrorAction(err, licenseUrl);
  return new ModelManagerError(code, err.code, err.message, actionOverride ?? action);
}

/** What a job shows for any failure. */
export function jobError(err: unknown, licenseUrl: string | null): NonNullable<DownloadJob['error']> {
  if (err instanceof DownloadError) {
    const { code, action } = downloadErrorAction(err, licenseUrl);
    return { code, reason: err.code, message: err.message, action };
  }
  if (err instanceof ModelManagerError) return { code: err.code, reason: err.reason, message: err.message, action: err.action };
  return { code: 'INTERNAL', reason: 'INTERNAL', message: err instanceof Error ? err.message : String(err), action: null };
}
