// POST /v1/responses (OpenAI's Responses API) over the same engine, queue, limits and auth as chat
// completions: the request becomes chat messages, the answer one assistant message item.
// Responses are not stored: previous_response_id is refused with a 400. Messages are translated
// (openai-request.ts) and streamed (openai-response.ts) by the same pieces as chat completions.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Engine, EngineTurn, GenerateRequest } from '../engine/engine';
import { badRequest, fromAppError } from './api-errors';
import { imageDetail, MAX_TOKENS_LIMIT, paramOf, parseBody, type ChatMessage } from './api-schemas';
import { paramsOf } from './openai-request';
import { eventStream, generateFor, newId, nowSeconds, sendError, sendJson } from './openai-response';
import { responseFormatField, toEngineFormat } from './response-format';

const nullish = <T extends z.ZodType>(schema: T) => schema.nullish();

const inputPart = z.object({
  type: z.string(),
  text: z.string().optional(),
  image_url: nullish(z.string()),
  file_id: nullish(z.string()),
  detail: imageDetail,
});

const inputItem = z.object({
  type: nullish(z.string()),
  role: z.enum(['user', 'assistant', 'system', 'developer']).optional(),
  content: z.union([z.string(), z.array(z.unknown())]).optional(),
});

/** text.format: the Responses API flattens json_schema's fields into the format object. */
const textFormat = z.union([
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({ type: z.literal('json_schema'), name: z.string(), schema: nullish(z.record(z.string(), z.unknown())), description: nullish(z.string()), strict: nullish(z.boolean()) }),
]);

export const responsesRequest = z.object({
  model: z.string().min(1, 'model is required').max(512),
  // Items are checked one by one (responsesToMessages), so an error names the field, not `input`.
  input: z.union([z.string(), z.array(z.unknown()).min(1, 'input must contain at least one item').max(10_000)]),
  instructions: nullish(z.string()),
  max_output_tokens: nullish(z.number().int().min(1).max(MAX_TOKENS_LIMIT)),
  temperature: nullish(z.number().min(0).max(2)),
  top_p: nullish(z.number().min(0).max(1)),
  text: nullish(z.object({ format: nullish(textFormat) })),
  stream: nullish(z.boolean()),
  store: nullish(z.boolean()),
  previous_response_id: nullish(z.string()),
  tools: nullish(z.array(z.unknown())),
  metadata: nullish(z.record(z.string(), z.string())),
  seed: nullish(z.number().int()),
});

export type ResponsesRequest = z.output<typeof responsesRequest>;

/** Unions hide the failing field; items and parts are parsed one by one so the 400 names it. */
function parseAt<T extends z.ZodType>(schema: T, value: unknown, at: PropertyKey[]): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = paramOf([...at, ...issue.path])!;
  throw badRequest(`Invalid ${field}: ${issue.message}`, field);
}

/** Items → chat messages; input_image keeps its detail so the chat path validates it once. */
export function responsesToMessages(body: ResponsesRequest): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (body.instructions?.trim()) messages.push({ role: 'system', content: body.instructions });
  if (typeof body.input === 'string') return [...messages, { role: 'user', content: body.input }];
  for (const [i, rawItem] of body.input.entries()) {
    const param = `input[${i}]`;
    const item = parseAt(inputItem, rawItem, ['input', i]);
    if (item.type && item.type !== 'message') throw badRequest(`${param}: items of type "${item.type.slice(0, 40)}" are not supported; send message items`, `${param}.type`);
    if (!item.role) throw badRequest(`${param} needs a role`, `${param}.role`);
    if (typeof item.content === 'string' || item.content === undefined) {
      messages.push({ role: item.role, content: item.content ?? '' });
      continue;
    }
    const content = item.content.map((rawPart, j) => {
      const p = `${param}.content[${j}]`;
      const part = parseAt(inputPart, rawPart, ['input', i, 'content', j]);
      if (part.type === 'input_text' || part.type === 'output_text') {
        if (typeof part.text !== 'string') throw badRequest(`${p} has type "${part.type}" but no text`, `${p}.text`);
        return { type: 'text', text: part.text };
      }
      if (part.type === 'input_image') {
        if (!part.image_url) throw badRequest(`${p} needs an image_url (a data: URL; file_id is not supported)`, `${p}.image_url`);
        return { type: 'image_url', image_url: { url: part.image_url, detail: part.detail ?? null } };
      }
      throw badRequest(`Content part type "${part.type.slice(0, 40)}" is not supported; use "input_text" or "input_image"`, `${p}.type`);
    });
    messages.push({ role: item.role, content });
  }
  return messages;
}

/** Refusals: what we would otherwise silently get wrong. */
export function refuseResponsesUnsupported(body: ResponsesRequest): void {
  if (body.previous_response_id) {
    throw badRequest('previous_response_id is not supported: this server does not store responses; send the whole conversation in input', 'previous_response_id', 'unsupported_parameter');
  }
  if (body.tools && body.tools.length > 0) throw badRequest('tools (function calling, built-in tools) are not supported by FireLLaVA', 'tools', 'unsupported_parameter');
}

export function responsesFormat(body: ResponsesRequest): GenerateRequest['responseFormat'] {
  const f = body.text?.format;
  if (!f || f.type !== 'json_schema') return toEngineFormat(f ?? undefined, 'text.format');
  const field = responseFormatField.safeParse({ type: 'json_schema', json_schema: { name: f.name, schema: f.schema, strict: f.strict } });
  if (!field.success) throw badRequest(`Invalid text.format: ${field.error.issues[0]!.message}`, 'text.format');
  return toEngineFormat(field.data, 'text.format');
}

export interface ResponsesDeps {
  engine: Engine;
  requireModel(model: string): string;
  /** Takes a queue place for the image decoding; call what it returns once the images are stored. */
  checkQueue(): () => void;
  chatTurns(messages: ChatMessage[]): Promise<{ system: string; turns: EngineTurn[] }>;
  onDuration(ms: number): void;
}

export function createResponsesHandler(deps: ResponsesDeps) {
  return async (req: IncomingMessage, res: ServerResponse, raw: unknown): Promise<void> => {
    const body = parseBody(responsesRequest, raw);
    refuseResponsesUnsupported(body);
    const responseFormat = responsesFormat(body);
    const messages = responsesToMessages(body);
    deps.requireModel(body.model);
    const release = deps.checkQueue();
    const { system, turns } = await deps.chatTurns(messages).finally(release);
    const id = newId('resp', '_', 16);
    const itemId = newId('msg', '_', 16);
    const createdAt = nowSeconds();
    const params = paramsOf({ temperature: body.temperature, top_p: body.top_p, seed: body.seed }, body.max_output_tokens);
    const format = body.text?.format ?? { type: 'text' };

    const responseOf = (status: 'in_progress' | 'completed' | 'incomplete', output: unknown[], usage: unknown, incomplete: unknown = null) => ({
      id,
      object: 'response',
      created_at: createdAt,
      status,
      error: null,
      incomplete_details: incomplete,
      instructions: body.instructions ?? null,
      max_output_tokens: body.max_output_tokens ?? null,
      model: body.model,
      output,
      parallel_tool_calls: false,
      previous_response_id: null,
      store: false,
      temperature: body.temperature ?? 1,
      text: { format },
      tool_choice: 'auto',
      tools: [],
      top_p: body.top_p ?? 1,
      truncation: 'disabled',
      usage,
      metadata: body.metadata ?? {},
    });
    const part = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
    const item = (status: 'in_progress' | 'completed' | 'incomplete', content: unknown[]) => ({ id: itemId, type: 'message', status, role: 'assistant', content });

    let seq = 0;
    const emit = (type: string, data: Record<string, unknown>): void => stream.send({ type, sequence_number: seq++, ...data }, type);
    const stream = eventStream(res, () => {
      const initial = responseOf('in_progress', [], null);
      emit('response.created', { response: initial });
      emit('response.in_progress', { response: initial });
      emit('response.output_item.added', { output_index: 0, item: item('in_progress', []) });
      emit('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: part('') });
    });
    const onText = (delta: string): void => {
      stream.start();
      emit('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta, logprobs: [] });
    };
    const terminal = await generateFor(req, res, {
      engine: deps.engine,
      request: { conversationId: id, cacheBy: 'prefix', system, turns, params, responseFormat },
      ...(body.stream === true ? { onText } : {}),
      onDuration: deps.onDuration,
    });
    if (!terminal) return;

    if (terminal.type === 'error') {
      const error = fromAppError(terminal.error, terminal.error.code === 'CONTEXT_FULL' ? 'input' : null);
      if (!stream.started) return sendError(res, error);
      const e = error.body().error;
      emit('error', { code: e.code, message: e.message, param: e.param });
      stream.end();
      return;
    }
    const cut = terminal.finishReason === 'length' || terminal.finishReason === 'context-full';
    const status = cut ? 'incomplete' : 'completed';
    const usage = {
      input_tokens: terminal.usage.promptTokens,
      input_tokens_details: { cached_tokens: terminal.usage.cachedTokens },
      output_tokens: terminal.usage.completionTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: terminal.usage.promptTokens + terminal.usage.completionTokens,
    };
    const done = item(status, [part(terminal.text)]);
    const final = responseOf(status, [done], usage, cut ? { reason: 'max_output_tokens' } : null);
    if (body.stream !== true) return sendJson(res, 200, final);
    stream.start();
    emit('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text: terminal.text, logprobs: [] });
    emit('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part: part(terminal.text) });
    emit('response.output_item.done', { output_index: 0, item: done });
    emit(cut ? 'response.incomplete' : 'response.completed', { response: final });
    stream.end();
  };
}
