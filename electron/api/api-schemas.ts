// Request bodies of the OpenAI-compatible API. Unknown fields are stripped, as OpenAI ignores
// them; fields we cannot honour (n > 1, tools, logprobs) are refused with a 400 that says so.
import { z } from 'zod';
import { badRequest, type ApiError } from './api-errors';
import { responseFormatField } from './response-format';

/** The engine's own limits (electron/shared/contracts/chat.ts). */
export const MAX_TOKENS_LIMIT = 32_768;
export const MAX_STOP_SEQUENCES = 8;
export const MAX_STOP_CHARS = 64;

const nullish = <T extends z.ZodType>(schema: T) => schema.nullish();

const stop = nullish(
  z.union([
    z.string().min(1).max(MAX_STOP_CHARS),
    z.array(z.string().min(1).max(MAX_STOP_CHARS)).max(MAX_STOP_SEQUENCES),
  ]),
);

/** Sampling fields shared by both endpoints. */
const sampling = {
  model: z.string().min(1, 'model is required').max(512),
  max_tokens: nullish(z.number().int().min(1).max(MAX_TOKENS_LIMIT)),
  temperature: nullish(z.number().min(0).max(2)),
  top_p: nullish(z.number().min(0).max(1)),
  /** Not OpenAI's, but Fireworks, vLLM and llama.cpp accept it. */
  top_k: nullish(z.number().int().min(0).max(1000)),
  stop,
  seed: nullish(z.number().int()),
  stream: nullish(z.boolean()),
  stream_options: nullish(z.object({ include_usage: nullish(z.boolean()) })),
  n: nullish(z.number().int()),
  presence_penalty: nullish(z.number().min(-2).max(2)),
  frequency_penalty: nullish(z.number().min(-2).max(2)),
  logprobs: nullish(z.union([z.boolean(), z.number()])),
  tools: nullish(z.array(z.unknown())),
  functions: nullish(z.array(z.unknown())),
  response_format: responseFormatField,
};

/** OpenAI refuses other values; FireLLaVA sees every image at one resolution either way. */
export const imageDetail = nullish(z.enum(['auto', 'low', 'high']));

const imageUrl = z.union([z.string(), z.object({ url: z.string(), detail: imageDetail })]);

const contentPart = z.object({
  type: z.string(),
  text: z.string().optional(),
  image_url: imageUrl.optional(),
  /** `{type: "file"}` parts (AI SDK, LlamaIndex): accepted when file_data is an image data: URL. */
  file: z.object({ file_data: z.string().optional(), file_id: z.string().optional(), filename: z.string().optional() }).optional(),
});

const message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
});

export const chatCompletionRequest = z.object({
  ...sampling,
  max_completion_tokens: nullish(z.number().int().min(1).max(MAX_TOKENS_LIMIT)),
  messages: z.array(message).min(1, 'messages must contain at least one message').max(10_000),
});

export const completionRequest = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).length(1, 'only one prompt per request is supported'), z.array(z.unknown())]),
  /** Fireworks' extension for vision models: data: URLs, placed at `<image>` in the prompt. */
  images: nullish(z.array(z.string()).max(16)),
  echo: nullish(z.boolean()),
  best_of: nullish(z.number().int()),
  suffix: nullish(z.string()),
});

export type ChatCompletionRequest = z.output<typeof chatCompletionRequest>;
export type CompletionRequest = z.output<typeof completionRequest>;
export type ChatMessage = z.output<typeof message>;
export type ContentPart = z.output<typeof contentPart>;

/** `messages[0].content[1].image_url` from a zod path. */
export function paramOf(path: readonly PropertyKey[]): string | null {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  return out || null;
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The request body must be a JSON object');
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const param = paramOf(issue.path);
  throw badRequest(param ? `Invalid ${param}: ${issue.message}` : issue.message, param);
}

/** Refusals shared by both endpoints: what we would otherwise silently get wrong. */
export function refuseUnsupported(body: z.output<z.ZodObject<typeof sampling>>): void {
  const refuse = (message: string, param: string): ApiError => badRequest(message, param, 'unsupported_parameter');
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw refuse(`n must be 1: FireLLaVA Desktop generates one choice per request (got n=${body.n})`, 'n');
  if (body.logprobs === true || (typeof body.logprobs === 'number' && body.logprobs > 0)) throw refuse('logprobs are not supported by this server', 'logprobs');
  if (body.tools && body.tools.length > 0) throw refuse('tools (function calling) are not supported by FireLLaVA', 'tools');
  if (body.functions && body.functions.length > 0) throw refuse('functions (function calling) are not supported by FireLLaVA', 'functions');
}
