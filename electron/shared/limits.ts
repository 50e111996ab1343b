// Size limits, each declared once. No zod here: the renderer imports this without bundling it.
const MiB = 1024 * 1024;

/** One image (paste, drop, file pick, /v1 image URL): the attachment store refuses more. */
export const MAX_IMAGE_BYTES = 50 * MiB;
/** A conversation file for conversations.import (its images included). */
export const MAX_IMPORT_BYTES = 60 * MiB;
/** One /rpc request: a MAX_IMAGE_BYTES image in base64 (+ a third) with JSON framing. */
export const RPC_MAX_BODY_BYTES = 70 * MiB;
/** One /v1 request: 25 MB like OpenAI's own vision limit per request. */
export const API_MAX_BODY_BYTES = 25 * MiB;

/** "50 MB": how the limits read in messages. */
export const megabytes = (bytes: number): string => `${Math.round(bytes / MiB)} MB`;

/** The KV cache size cap a user may set (App settings); null there means the default. Decimal units, as formatBytes shows them. */
export const KV_CACHE_CAP_MIN_BYTES = 256e6;
export const KV_CACHE_CAP_MAX_BYTES = 1e12;
export const KV_CACHE_CAP_MESSAGE = 'The cache cap must be 256 MB to 1 TB';
export const isKvCacheCap = (n: number): boolean => Number.isInteger(n) && n >= KV_CACHE_CAP_MIN_BYTES && n <= KV_CACHE_CAP_MAX_BYTES;
