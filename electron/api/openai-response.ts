// Writing /v1 answers: JSON bodies, errors, and server-sent events for a streamed generation.
// Chat and text completions are written here; the Responses API writes its own event names over
// the same stream pieces (eventStream, generateFor).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine, GenerateRequest } from '../engine/engine';
import type { FinishReason, GenerateEvent } from '../shared/types';
import { ApiError, fromAppError } from './api-errors';

export const newId = (prefix: string, separator = '-', bytes = 12): string => `${prefix}${separator}${randomBytes(bytes).toString('hex')}`;
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

export const sendError = (res: ServerResponse, error: ApiError): void => sendJson(res, error.status, error.body(), error.headers);

export interface EventStream {
  /** Whether the 200 and the first events are out (an error must then be sent as an event). */
  readonly started: boolean;
  start(): void;
  /** One event: `data: <json>`, after `event: <name>` when named. */
  send(data: unknown, event?: string): void;
  end(last?: string): void;
}

/**
 * An SSE answer whose headers wait for the first token, so errors before it still get their
 * proper status. `onStart` writes the events that open the stream.
 */
export function eventStream(res: ServerResponse, onStart: () => void = () => {}): EventStream {
  let started = false;
  const stream: EventStream = {
    get started() {
      return started;
    },
    start() {
      if (started) return;
      started = true;
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'X-Accel-Buffering': 'no', Connection: 'keep-alive' });
      res.flushHeaders();
      onStart();
    },
    send(data, event) {
      if (!res.destroyed) res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
    },
    end(last) {
      res.end(last);
    },
  };
  return stream;
}

export type GenerateTerminal = GenerateEvent & { type: 'done' | 'error' };

export interface GenerationRun {
  engine: Engine;
  request: GenerateRequest;
  /** Each non-empty piece of text as it is generated (for streams). */
  onText?: (text: string) => void;
  /** How long the generation took, for the engine's queue-wait estimates. */
  onDuration: (ms: number) => void;
}

/** Runs one generation for a client; null when the client hung up (it is stopped at once then). */
export async function generateFor(req: IncomingMessage, res: ServerResponse, run: GenerationRun): Promise<GenerateTerminal | null> {
  const controller = new AbortController();
  // The client hung up: stop generating at once so the next request is not kept waiting.
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  // (req.destroyed is true once its body was read; the socket says whether the client left.)
  if (res.destroyed || req.socket.destroyed) controller.abort();
  const began = performance.now();
  // The engine worker absorbs the binding's races (late token callbacks, a context left busy).
  const terminal = await run.engine.generate(
    run.request,
    (event) => {
      if (run.onText && event.type === 'delta' && event.text !== '') run.onText(event.text);
    },
    controller.signal,
  );
  run.onDuration(performance.now() - began);
  return controller.signal.aborted || res.destroyed ? null : terminal;
}

// --- chat and text completions -----------------------------------------------------------------

export interface CompletionShape {
  id: string;
  created: number;
  model: string;
  kind: 'chat' | 'completion';
  stream: boolean;
  includeUsage: boolean;
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

const openAiFinish = (reason: FinishReason): 'stop' | 'length' => (reason === 'length' || reason === 'context-full' ? 'length' : 'stop');

const usageOf = (event: GenerateEvent & { type: 'done' }): Usage => ({
  prompt_tokens: event.usage.promptTokens,
  completion_tokens: event.usage.completionTokens,
  total_tokens: event.usage.promptTokens + event.usage.completionTokens,
  prompt_tokens_details: { cached_tokens: event.usage.cachedTokens },
});

const chunk = (s: CompletionShape, choice: Record<string, unknown> | null, usage?: Usage): unknown => ({
  id: s.id,
  object: s.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
  created: s.created,
  model: s.model,
  choices: choice ? [{ index: 0, ...choice, logprobs: null }] : [],
  ...(s.includeUsage ? { usage: usage ?? null } : {}),
});

/** Generates and answers a chat or text completion: one JSON body, or chunks ending in [DONE]. */
export async function writeCompletion(req: IncomingMessage, res: ServerResponse, s: CompletionShape, run: Omit<GenerationRun, 'onText'>): Promise<void> {
  const stream = eventStream(res, () => {
    if (s.kind === 'chat') stream.send(chunk(s, { delta: { role: 'assistant', content: '' }, finish_reason: null }));
  });
  const onText = (text: string): void => {
    stream.start();
    stream.send(chunk(s, s.kind === 'chat' ? { delta: { content: text }, finish_reason: null } : { text, finish_reason: null }));
  };
  const terminal = await generateFor(req, res, { ...run, ...(s.stream ? { onText } : {}) });
  if (!terminal) return;

  if (terminal.type === 'error') {
    // OpenAI names the field that overflowed the context.
    const error = fromAppError(terminal.error, terminal.error.code === 'CONTEXT_FULL' ? (s.kind === 'chat' ? 'messages' : 'prompt') : null);
    if (!stream.started) return sendError(res, error);
    stream.send(error.body());
    stream.end();
    return;
  }
  const finish = openAiFinish(terminal.finishReason);
  const usage = usageOf(terminal);
  if (s.stream) {
    stream.start();
    stream.send(chunk(s, s.kind === 'chat' ? { delta: {}, finish_reason: finish } : { text: '', finish_reason: finish }));
    if (s.includeUsage) stream.send(chunk(s, null, usage));
    stream.end('data: [DONE]\n\n');
    return;
  }
  const choice =
    s.kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: terminal.text, refusal: null }, logprobs: null, finish_reason: finish }
      : { index: 0, text: terminal.text, logprobs: null, finish_reason: finish };
  sendJson(res, 200, {
    id: s.id,
    object: s.kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: s.created,
    model: s.model,
    choices: [choice],
    usage,
  });
}
