// Image URLs from API requests become attachments through the same store (and the same
// validation) as images pasted into the chat UI. Offline-first: http(s) URLs are fetched only
// when the user turned fetching on.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AttachmentStore } from '../attachments/attachment-store';
import { MAX_IMAGE_BYTES, megabytes } from '../shared/limits';
import { AppErrorException, toAppError } from '../shared/errors';
import { ApiError, badRequest, fromAppError } from './api-errors';

export interface ImageInputOptions {
  attachments: AttachmentStore;
  /** Fetch http(s) image URLs; off by default. */
  fetchImages: boolean;
  fetchTimeoutMs?: number;
  /** sha256 of bytes as sent → stored image: API clients resend the image every turn. */
  seen?: Map<string, StoredImage>;
}

const SEEN_LIMIT = 256;

export interface StoredImage {
  id: string;
  path: string;
}

const DATA_URL = /^data:([^,]*?),/i;

export function decodeDataUrl(url: string, param: string): Uint8Array {
  const head = DATA_URL.exec(url.slice(0, 300));
  if (!head) throw badRequest('The image data: URL is malformed (expected data:image/<type>;base64,<data>)', param, 'invalid_image_url');
  const meta = head[1]!.split(';').map((s) => s.trim().toLowerCase());
  if (!meta.includes('base64')) throw badRequest('The image data: URL must be base64-encoded (data:image/<type>;base64,...)', param, 'invalid_image_url');
  let payload = url.slice(head[0].length);
  // Line-wrapped base64 (MIME style) is accepted; includes() is far cheaper than a regex scan.
  if (['\n', '\r', ' ', '\t'].some((c) => payload.includes(c))) payload = payload.replace(/\s+/g, '');
  if (payload.length === 0) throw badRequest('The image data: URL holds no data', param, 'invalid_image');
  const bytes = Buffer.from(payload, 'base64');
  // Buffer.from silently skips bad characters (and stops at a stray "="); a damaged paste must not
  // pass as a smaller image. Every skipped character shortens the output, so comparing lengths
  // catches them without a second pass over the payload (a dangling last character is refused too).
  const pad = payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0;
  if (payload.length % 4 === 1 || bytes.length !== Math.floor((payload.length * 3) / 4) - pad) {
    throw badRequest('The image data: URL is not valid base64', param, 'invalid_image_url');
  }
  return bytes;
}

async function fetchImage(url: string, param: string, timeoutMs: number): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw badRequest(`Could not download the image at ${url.slice(0, 200)}: ${(err as Error).message}`, param, 'image_fetch_failed');
  }
  if (!response.ok) throw badRequest(`Could not download the image at ${url.slice(0, 200)}: HTTP ${response.status}`, param, 'image_fetch_failed');
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > MAX_IMAGE_BYTES) throw badRequest(`The image at ${url.slice(0, 200)} is larger than ${megabytes(MAX_IMAGE_BYTES)}`, param, 'image_too_large');
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += (chunk as Uint8Array).byteLength;
    if (size > MAX_IMAGE_BYTES) throw badRequest(`The image at ${url.slice(0, 200)} is larger than ${megabytes(MAX_IMAGE_BYTES)}`, param, 'image_too_large');
    chunks.push(chunk as Uint8Array);
  }
  return Buffer.concat(chunks);
}

/**
 * The image stored earlier for the same input, unless its file was removed or damaged since (its
 * id is the hash of its bytes): then it is stored again, so a bad file never reaches the engine.
 * Hashing the stored file costs far less than decoding the upload again.
 */
async function seenImage(options: ImageInputOptions, key: string): Promise<StoredImage | null> {
  const known = options.seen?.get(key);
  if (!known) return null;
  const bytes = await readFile(known.path).catch(() => null);
  if (bytes && createHash('sha256').update(bytes).digest('hex') === known.id) return known;
  options.seen?.delete(key);
  return null;
}

/** Decodes (or downloads), validates and stores one image; errors are 400s naming the part. */
export async function storeImageUrl(url: string, param: string, options: ImageInputOptions): Promise<StoredImage> {
  let bytes: Uint8Array;
  let sent: string;
  if (/^data:/i.test(url)) {
    // API clients resend the same data: URL every turn: the same text is the same image, so a
    // repeat skips decoding as well as re-encoding.
    sent = createHash('sha256').update(url).digest('hex');
    const known = await seenImage(options, sent);
    if (known) return known;
    bytes = decodeDataUrl(url, param);
  } else if (/^https?:\/\//i.test(url)) {
    if (!options.fetchImages) {
      throw badRequest(
        'Image URLs are not downloaded: FireLLaVA Desktop works offline. Send the image inline as a data: URL (data:image/png;base64,...), or turn on image fetching for the API.',
        param,
        'image_url_fetch_disabled',
      );
    }
    bytes = await fetchImage(url, param, options.fetchTimeoutMs ?? 30_000);
    // The same address may serve other bytes later: fetched images are known by their content.
    sent = createHash('sha256').update(bytes).digest('hex');
    const known = await seenImage(options, sent);
    if (known) return known;
  } else {
    throw badRequest('Unsupported image URL: use a data:image/...;base64 URL', param, 'invalid_image_url');
  }
  try {
    const info = await options.attachments.add(bytes);
    const stored = { id: info.id, path: await options.attachments.pathOf(info.id) };
    if (options.seen) {
      if (options.seen.size >= SEEN_LIMIT) options.seen.delete(options.seen.keys().next().value!);
      options.seen.set(sent, stored);
    }
    return stored;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    const app = err instanceof AppErrorException ? err.error : toAppError(err);
    const mapped = fromAppError(app, param);
    throw mapped.status >= 500 ? mapped : new ApiError(400, `Image ${param}: ${app.message}`, 'invalid_request_error', mapped.code, param);
  }
}
