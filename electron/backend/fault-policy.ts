// What an error that escaped every handler does to the whole process. `firellava serve` and the
// Electron main process install this one policy, so a recoverable failure (a full disk, a locked
// database, a client that hung up) never ends every stream at once. docs/ARCHITECTURE.md says why.
import { storageErrorOf } from '../shared/errors';

export type FaultKind = 'uncaughtException' | 'unhandledRejection';

/** Socket and stream errors of one request: the process is fine, one client went away. */
const PER_REQUEST_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

/**
 * 'keep-running' for a failed write of the data folder (SQLite rolled the statement back; the chat
 * keeps the text and retries), a per-request socket error, and any promise rejection (it ended one
 * async task at an await, not halfway through shared state). 'exit' for any other synchronous throw:
 * a bug that may have left shared state half-updated, where running on would corrupt more.
 */
export function faultVerdict(kind: FaultKind, err: unknown): 'keep-running' | 'exit' {
  if (kind === 'unhandledRejection') return 'keep-running';
  if (storageErrorOf(err)) return 'keep-running';
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && PER_REQUEST_CODES.has(code) ? 'keep-running' : 'exit';
}

const describe = (err: unknown): string => (err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err));

export interface FaultPolicyOptions {
  /** Prefix of every line, e.g. "firellava serve". */
  name: string;
  /** Ends the process after a fatal error (serve: process.exit; Electron: a dialog, then app.exit). */
  exit: (code: number, err: unknown) => void;
  log?: (line: string) => void;
  target?: NodeJS.Process;
}

/** Exit status after a fatal uncaught exception (EX_SOFTWARE: an internal error). */
export const FATAL_EXIT_CODE = 70;

/** Installs the handlers; returns a function that removes them. */
export function installFaultPolicy(options: FaultPolicyOptions): () => void {
  const target = options.target ?? process;
  const log = options.log ?? ((line: string) => console.error(line));
  const handle = (kind: FaultKind, err: unknown): void => {
    const what = kind === 'uncaughtException' ? 'uncaught exception' : 'unhandled promise rejection';
    if (faultVerdict(kind, err) === 'keep-running') {
      const storage = storageErrorOf(err);
      log(`${options.name}: ${what}, kept running${storage ? ` (${storage.code}: nothing lost, the chat retries its saves)` : ''}: ${describe(err)}`);
      return;
    }
    log(`${options.name}: fatal ${what}, exiting with code ${FATAL_EXIT_CODE} (answers still streaming read "interrupted" on the next start): ${describe(err)}`);
    options.exit(FATAL_EXIT_CODE, err);
  };
  const onException = (err: unknown): void => handle('uncaughtException', err);
  const onRejection = (reason: unknown): void => handle('unhandledRejection', reason);
  target.on('uncaughtException', onException);
  target.on('unhandledRejection', onRejection);
  return () => {
    target.off('uncaughtException', onException);
    target.off('unhandledRejection', onRejection);
  };
}
