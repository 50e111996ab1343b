// How a download fails, for the downloader and its callers (model manager, checkpoint download).
export type DownloadErrorCode = 'GATED' | 'NOT_FOUND' | 'HTTP' | 'NETWORK' | 'SIZE_MISMATCH' | 'CHECKSUM_MISMATCH' | 'ABORTED';

export class DownloadError extends Error {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

export function abortError(): DownloadError {
  return new DownloadError('ABORTED', 'Download stopped');
}
