// "Get FireLLaVA": download the official checkpoint, convert, quantize, verify, install.
import { z } from 'zod';
import { call, stream } from '../contract-kit';
import type { ErrorCode } from '../errors';
import type { InstalledModel } from './models';

export type ConversionPhase = 'download' | 'convert' | 'verify' | 'ready';

export interface ConversionQuant {
  /** Converter name (f16, q8_0, q4_0, ...): whatever the converter offers. */
  quant: string;
  /** Approximate size of the converted pair (model + projector); null until the repo is listed. */
  outputBytes: number | null;
  recommended: boolean;
  /** Id of the pair this quant installs as, and whether it is installed already. */
  modelId: string;
  installed: boolean;
}

export interface ConversionError {
  code: ErrorCode;
  reason: string;
  message: string;
  /** What the user can do about it. */
  action: string | null;
}

export interface ConversionPlan {
  repo: string;
  revision: string;
  /** The repository page, where the gated license is accepted. */
  pageUrl: string;
  license: { name: string; url: string };
  token: { known: boolean; saved: boolean; fromEnvironment: boolean; canSave: boolean };
  /** Files to download; null when the repository could not be listed (see listError). */
  download: { totalBytes: number; haveBytes: number; files: number } | null;
  listError: ConversionError | null;
  quants: ConversionQuant[];
  defaultQuant: string;
  /** Free space where the checkpoint and the models go (null: unknown). */
  freeBytes: number | null;
  /** The disk margin added to download + output (0.1 = 10%). */
  margin: number;
  checkpointDir: string;
  /** The job running or last finished in this session, if any. */
  job: ConversionJob | null;
}

export type ConversionState = 'running' | 'ready' | 'error' | 'cancelled';

export interface ConversionJob {
  id: string;
  repo: string;
  revision: string;
  quant: string;
  state: ConversionState;
  phase: ConversionPhase;
  progress: {
    file: string | null;
    bytesDone: number;
    bytesTotal: number | null;
    bytesPerSecond: number;
    etaSeconds: number | null;
  };
  deleteCheckpoint: boolean;
  activate: boolean;
  error: ConversionError | null;
  /** Set when state is 'ready'. */
  result: { model: InstalledModel | null; modelBytes: number; mmprojBytes: number; checkpointDeleted: boolean; seconds: number } | null;
  startedAt: string;
}

export type ConversionEvent = { type: 'job'; job: ConversionJob | null };

// Both end up in URLs, the repo also in a folder name: no '.' or '..' segments.
const noDots = (s: string): boolean => !s.split('/').some((p) => p === '.' || p === '..');
const repo = z
  .string()
  .max(200)
  .regex(/^[\w.-]+\/[\w.-]+$/, 'A Hugging Face repo looks like owner/name')
  .refine(noDots, 'A Hugging Face repo looks like owner/name');
const revision = z.string().max(100).regex(/^[\w./-]+$/, 'Not a revision').refine(noDots, 'Not a revision');
const where = z.object({ repo: repo.optional(), revision: revision.optional() }).strict();

export const conversionContract = {
  /** Quantizations with sizes, download size, free space, license and token state; lists the repo. */
  'convert.plan': call<ConversionPlan>()(where),
  /** Starts download → convert → verify → install; refused up front without enough disk. */
  'convert.start': call<ConversionJob>()(
    z
      .object({
        quant: z.string().regex(/^[a-z0-9_]{2,16}$/, 'Not a quantization name'),
        repo: repo.optional(),
        revision: revision.optional(),
        /** Delete the downloaded checkpoint once installed (frees ~26 GB). Default true. */
        deleteCheckpoint: z.boolean().default(true),
        /** Make the new pair the active model and load it. Default true. */
        activate: z.boolean().default(true),
      })
      .strict(),
  ),
  /** Stops the running job; downloaded bytes are kept for the next start. */
  'convert.cancel': call<ConversionJob | null>()(z.object({}).strict()),
  /** Deletes a downloaded (or partly downloaded) checkpoint; refused while a job runs. */
  'convert.discard': call<{ freedBytes: number }>()(where),
  /** The current job, then every change. */
  'convert.watch': stream<ConversionEvent>()(z.object({}).strict()),
} as const;
