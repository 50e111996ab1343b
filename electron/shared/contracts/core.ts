// App, engine status and attachments.
import { z } from 'zod';
import { call, stream } from '../contract-kit';
import { KV_CACHE_CAP_MAX_BYTES, KV_CACHE_CAP_MIN_BYTES, KV_CACHE_CAP_MESSAGE, MAX_IMAGE_BYTES, megabytes } from '../limits';
import { THEMES } from '../theme';
import type { AppInfo, AttachmentInfo, EngineStatus } from '../types';

export { MAX_IMAGE_BYTES };

export const coreContract = {
  'app.info': call<AppInfo>()(z.object({}).strict()),
  /** The chosen theme, for the window frame; applied is false where there is no window (headless). */
  'app.setTheme': call<{ applied: boolean }>()(z.object({ theme: z.enum(THEMES) }).strict()),
  'engine.status': call<EngineStatus>()(z.object({}).strict()),
  /** Emits the current status at once, then every change. */
  'engine.watch': stream<EngineStatus>()(z.object({}).strict()),
  /** Deletes every saved conversation state (kv-cache/); answers the cache size after. */
  'engine.clearCache': call<{ bytes: number }>()(z.object({}).strict()),
  /** Saves the cache size cap (null: the default) and applies it at once; answers the size and cap after. */
  'engine.setCacheCap': call<{ bytes: number; capBytes: number }>()(
    z
      .object({
        bytes: z
          .number({ message: 'The cache cap must be a number of bytes' })
          .int({ message: 'The cache cap must be a whole number of bytes' })
          .min(KV_CACHE_CAP_MIN_BYTES, { message: KV_CACHE_CAP_MESSAGE })
          .max(KV_CACHE_CAP_MAX_BYTES, { message: KV_CACHE_CAP_MESSAGE })
          .nullable(),
      })
      .strict(),
  ),
  'attachments.add': call<AttachmentInfo>()(
    z
      .object({
        name: z.string().max(512).default('image'),
        mimeType: z.string().max(128).default(''),
        // Raw image bytes from paste, drop or file pick. Capped here so no transport buffers more.
        data: z.instanceof(Uint8Array).refine((d) => d.byteLength <= MAX_IMAGE_BYTES, {
          message: `Images are limited to ${megabytes(MAX_IMAGE_BYTES)}`,
        }),
      })
      .strict(),
  ),
} as const;
