// OpenAI request bodies → the engine's GenerateRequest: sampling parameters, chat messages → turns
// (system text, merged roles, prefill), completion prompts, and image inputs stored as attachments.
// The Responses API turns its input into chat messages and reuses these.
import type { EngineTurn } from '../engine/engine';
import { RAW_IMAGE_MARKER } from '../engine/raw-prompt';
import type { GenerationParams } from '../shared/contract';
import { badRequest } from './api-errors';
import type { ChatCompletionRequest, ChatMessage, CompletionRequest, ContentPart } from './api-schemas';
import { storeImageUrl, type ImageInputOptions, type StoredImage } from './image-input';

/** OpenAI generates until the context is full; a bound keeps a forgotten client from holding the queue. */
export const DEFAULT_MAX_TOKENS = 2048;

/** The sampling fields the chat, completion and Responses bodies share. */
export type SamplingFields = Pick<ChatCompletionRequest, 'temperature' | 'top_p' | 'top_k' | 'seed' | 'stop' | 'presence_penalty' | 'frequency_penalty'>;

export function paramsOf(body: SamplingFields, maxTokens: number | null | undefined): GenerationParams {
  const temperature = body.temperature ?? 1;
  const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  return {
    maxTokens: maxTokens ?? DEFAULT_MAX_TOKENS,
    temperature,
    // temperature 0 is not reproducible in llama.cpp; top_k 1 is greedy and is.
    topK: temperature === 0 ? 1 : (body.top_k ?? 40),
    topP: body.top_p ?? 1,
    seed: body.seed == null ? -1 : ((body.seed % 2 ** 31) + 2 ** 31) % 2 ** 31,
    stop,
    ...(body.presence_penalty != null ? { presencePenalty: body.presence_penalty } : {}),
    ...(body.frequency_penalty != null ? { frequencyPenalty: body.frequency_penalty } : {}),
  };
}

/** The image URL of an image part (image_url, or a file part carrying an image), else null. */
function imageUrlOf(part: ContentPart, param: string): string | null {
  if (part.type === 'image_url') {
    const url = typeof part.image_url === 'string' ? part.image_url : part.image_url?.url;
    if (!url) throw badRequest(`${param}.image_url needs a url`, `${param}.image_url`);
    return url;
  }
  if (part.type !== 'file') return null;
  const data = part.file?.file_data;
  if (!data) throw badRequest(`${param}.file needs file_data (a data: URL); uploaded file ids are not supported`, `${param}.file`);
  const mime = /^data:([^;,]*)/i.exec(data)?.[1]?.toLowerCase() ?? '';
  if (!mime.startsWith('image/')) {
    throw badRequest(`${param}.file is ${mime ? `"${mime.slice(0, 60)}"` : 'not a data: URL'}: FireLLaVA reads only image files`, `${param}.file`);
  }
  return data;
}
const isImagePart = (part: ContentPart): boolean => part.type === 'image_url' || part.type === 'file';

function textOf(m: ChatMessage, i: number): string {
  if (m.content == null) return '';
  if (typeof m.content === 'string') return m.content;
  return m.content
    .map((part, j) => {
      if (part.type === 'text') {
        if (typeof part.text !== 'string') throw badRequest(`messages[${i}].content[${j}] has type "text" but no text`, `messages[${i}].content[${j}].text`);
        return part.text;
      }
      if (isImagePart(part)) {
        imageUrlOf(part, `messages[${i}].content[${j}]`);
        return null;
      }
      throw badRequest(`Content part type "${part.type.slice(0, 40)}" is not supported; use "text", "image_url" or an image "file"`, `messages[${i}].content[${j}].type`);
    })
    .filter((t): t is string => t !== null)
    .join('\n');
}

/** Chat messages → the system text and alternating turns, with their images stored. */
export async function chatTurns(messages: ChatMessage[], imageOptions: ImageInputOptions): Promise<{ system: string; turns: EngineTurn[] }> {
  const system: string[] = [];
  const turns: EngineTurn[] = [];
  // Validate every message before storing any image, so a bad request stores nothing.
  const texts = messages.map((m, i) => {
    if (m.role === 'tool' || m.role === 'function') throw badRequest(`messages[${i}]: "${m.role}" messages are not supported (no function calling)`, `messages[${i}].role`);
    if (m.role !== 'user' && Array.isArray(m.content) && m.content.some(isImagePart)) {
      throw badRequest(`messages[${i}]: only user messages may contain images`, `messages[${i}].content`);
    }
    return textOf(m, i);
  });
  for (const [i, m] of messages.entries()) {
    const text = texts[i]!;
    if (m.role === 'system' || m.role === 'developer') {
      if (text.trim()) system.push(text);
      continue;
    }
    const images: StoredImage[] = [];
    if (Array.isArray(m.content)) {
      for (const [j, part] of m.content.entries()) {
        const url = imageUrlOf(part, `messages[${i}].content[${j}]`);
        if (url === null) continue;
        images.push(await storeImageUrl(url, `messages[${i}].content[${j}].${part.type === 'file' ? 'file' : 'image_url'}`, imageOptions));
      }
    }
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const last = turns[turns.length - 1];
    // FireLLaVA's format alternates USER/ASSISTANT: consecutive messages of one role merge.
    if (last && last.role === role) {
      last.text = [last.text, text].filter((t) => t !== '').join('\n\n');
      last.images.push(...images);
    } else {
      turns.push({ role, text, images });
    }
  }
  if (turns.length === 0) throw badRequest('messages must contain at least one user or assistant message', 'messages');
  // A last assistant message is a prefill: the prompt ends inside that answer and the model
  // continues it (prompt-format.ts); a leading one is a greeting.
  return { system: system.join('\n\n'), turns };
}

/** A /v1/completions body's raw prompt and image URLs, checked before anything is stored. */
export function completionPrompt(body: CompletionRequest): { prompt: string; imageUrls: string[] } {
  if (Array.isArray(body.prompt) && body.prompt.length !== 1) throw badRequest(`Send one prompt per request (got ${body.prompt.length}): FireLLaVA answers one prompt at a time`, 'prompt', 'unsupported_parameter');
  const prompt = typeof body.prompt === 'string' ? body.prompt : body.prompt[0];
  if (typeof prompt !== 'string') throw badRequest('prompt must be a string (token arrays are not supported)', 'prompt');
  if (body.echo) throw badRequest('echo is not supported by this server', 'echo', 'unsupported_parameter');
  if (body.best_of != null && body.best_of !== 1) throw badRequest('best_of must be 1', 'best_of', 'unsupported_parameter');
  if (body.suffix) throw badRequest('suffix (insertion) is not supported by FireLLaVA', 'suffix', 'unsupported_parameter');
  const imageUrls = body.images ?? [];
  if (imageUrls.length > 1) throw badRequest('FireLLaVA sees one image per request: send at most one entry in images', 'images');
  if (prompt.split(RAW_IMAGE_MARKER).length - 1 > 1) throw badRequest(`The prompt may contain at most one ${RAW_IMAGE_MARKER} marker (FireLLaVA sees one image)`, 'prompt');
  return { prompt, imageUrls };
}

/** Stores a completion's images (`images[i]`), in order. */
export async function storeImages(urls: readonly string[], imageOptions: ImageInputOptions): Promise<StoredImage[]> {
  const images: StoredImage[] = [];
  for (const [i, url] of urls.entries()) images.push(await storeImageUrl(url, `images[${i}]`, imageOptions));
  return images;
}
