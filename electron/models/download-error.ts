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

/** The server's size is not the one the catalog or an earlier response gave. */
export function serverSizeMismatch(fileName: string, size: number, expected: number): DownloadError {
  return new DownloadError('SIZE_MISMATCH', `${fileName} is ${size} bytes on the server, expected ${expected}`);
}
