// What the host says when the worker dies on a model pair, and when it stops trying: llama.cpp
// kills the process on a file it cannot use, so a pair that crashed the worker twice while
// loading or answering its first request is marked broken instead of restarted forever.
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { ModelPair } from './engine';

export type StageRole = 'model' | 'mmproj';

const STAGE_PREFIX = 'firellava-worker: loading';

/** The line the worker writes to stderr before each native loading step. */
export const stageMarker = (role: StageRole, file: string): string => `${STAGE_PREFIX} ${role} ${file}`;

/** Crashes on one pair, at load or on its first answer, before it is marked broken. */
export const CRASHES_BEFORE_BROKEN = 2;

export interface CrashFacts {
  /** 'load': the worker died loading the pair; 'first-request': it loaded, then died on its first answer. */
  stage: 'load' | 'first-request';
  pair: ModelPair;
  /** The first request carried an image (the projector encodes it). */
  withImage: boolean;
  /** "signal SIGSEGV", "exit code 1". */
  how: string;
  /** Native output before the crash. */
  log: string;
  /** What the worker said it was loading last (its stage marker), when known. */
  step: { role: StageRole; file: string } | null;
}

/** The file that was being loaded when the worker died, from the worker's last stage marker. */
export function fileBeingLoaded(log: string): { role: StageRole; file: string } | null {
  const at = log.lastIndexOf(STAGE_PREFIX);
  if (at < 0) return null;
  const m = /^(model|mmproj) (.+)$/m.exec(log.slice(at + STAGE_PREFIX.length + 1));
  return m ? { role: m[1] as StageRole, file: (m[2] as string).trim() } : null;
}

const SPECIFIC = /GGML_ASSERT|GGML_ABORT|what\(\)|error loading model:|failed to load/i;
const GENERIC = /terminate called|exception|error|failed|invalid|out of (?:range|bounds|memory)/i;

/** The native line that says what went wrong: an assert or llama.cpp's own reason before a generic error. */
export function nativeReason(log: string): string | null {
  const lines = log.split('\n').map((l) => l.trim()).filter(Boolean);
  const start = lines.findLastIndex((l) => l.startsWith(STAGE_PREFIX)) + 1; // only what came after the step began
  const after = lines.slice(start);
  const line = after.findLast((l) => SPECIFIC.test(l)) ?? after.findLast((l) => GENERIC.test(l));
  if (!line) return null;
  const short = line.replace(/\S*\/(?=[^/\s]+:\d+: )/, ''); // build-machine source paths say nothing to a user
  return short.length > 240 ? `${short.slice(0, 240)}…` : short;
}

const ROLE_LABEL: Record<StageRole, string> = { model: 'model', mmproj: 'vision projector' };

/** One sentence naming the file and the likely cause. */
export function describeCrash(f: CrashFacts): string {
  const native = nativeReason(f.log);
  const cause = native ? `llama.cpp said: ${native}` : 'the file is probably malformed in a way FireLLaVA does not check yet';
  if (f.stage === 'load') {
    const step = f.step ?? fileBeingLoaded(f.log) ?? { role: 'model' as const, file: f.pair.model };
    return `The engine crashed (${f.how}) while loading the ${ROLE_LABEL[step.role]} ${basename(step.file)}: ${cause}`;
  }
  const suspect: { role: StageRole; file: string } = f.withImage && f.pair.mmproj ? { role: 'mmproj', file: f.pair.mmproj } : { role: 'model', file: f.pair.model };
  const what = f.withImage ? 'reading the image of its first request' : 'answering its first request';
  return `The engine crashed (${f.how}) ${what} after loading ${basename(f.pair.model)}; the ${ROLE_LABEL[suspect.role]} ${basename(suspect.file)} is the likely cause: ${cause}`;
}

function identity(path: string | null): string {
  if (path === null) return '-';
  try {
    const s = statSync(path);
    return `${path}:${s.size}:${s.mtimeMs}`;
  } catch {
    return `${path}:gone`;
  }
}

/** Crash counts per pair; a pair whose files change (replaced, re-downloaded) starts over. */
export class CrashLedger {
  private readonly counts = new Map<string, number>();
  private readonly broken = new Map<string, string>();

  private key(pair: ModelPair): string {
    return `${identity(pair.model)}|${identity(pair.mmproj)}`;
  }

  /** Why this pair is refused, or null. */
  brokenReason(pair: ModelPair): string | null {
    return this.broken.get(this.key(pair)) ?? null;
  }

  /** Counts a crash; returns the message for the user and whether the pair is now broken. */
  record(f: CrashFacts): { message: string; broken: boolean } {
    const key = this.key(f.pair);
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    const described = describeCrash(f);
    if (count < CRASHES_BEFORE_BROKEN) return { message: described, broken: false };
    const message = `${described}. This pair crashed the engine ${count} times, so it is marked broken and will not be loaded again: replace the file or choose another model.`;
    this.broken.set(key, message);
    return { message, broken: true };
  }

  /** The pair answered a request: earlier crashes were not its fault. */
  clear(pair: ModelPair): void {
    this.counts.delete(this.key(pair));
  }
}
