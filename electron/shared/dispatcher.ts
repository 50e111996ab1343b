// Turns the contract plus one handler object into a transport-neutral dispatcher. Both the
// Electron IPC transport and the HTTP server call it, so validation and error mapping live here.
import type { z } from 'zod';
import type { CallDef, ContractShape, EventOf, OutputOf, ParsedInputOf, StreamDef } from './contract-kit';
import { fail, ok, toAppError, type AppError, type Result } from './errors';

/** Facts about the caller that handlers may need; never taken from the client's input. */
export interface RequestContext {
  transport: 'electron' | 'http';
}

export type CallHandler<D, Ctx> = (input: ParsedInputOf<D>, ctx: Ctx) => Promise<OutputOf<D>>;
export type StreamHandler<D, Ctx> = (
  input: ParsedInputOf<D>,
  emit: (event: EventOf<D>) => void,
  signal: AbortSignal,
  ctx: Ctx,
) => Promise<void>;

export type Handlers<C extends ContractShape, Ctx = RequestContext> = {
  [K in keyof C]: C[K] extends CallDef ? CallHandler<C[K], Ctx> : C[K] extends StreamDef ? StreamHandler<C[K], Ctx> : never;
};

export interface StreamOptions<Ctx> {
  emit: (event: unknown) => void;
  signal: AbortSignal;
  ctx: Ctx;
  /** Called once the input is valid, before the handler runs (HTTP sends its SSE headers here). */
  onAccepted?: () => void;
}

export interface Dispatcher<Ctx = RequestContext> {
  kindOf(name: string): 'call' | 'stream' | null;
  call(name: string, rawInput: unknown, ctx: Ctx): Promise<Result<unknown>>;
  /** Resolves when the handler finishes; after that, or after abort, emit is a no-op. */
  stream(name: string, rawInput: unknown, options: StreamOptions<Ctx>): Promise<Result<void>>;
}

export const CANCELLED_ERROR: AppError = { code: 'CANCELLED', message: 'Cancelled' };

/** "turns.0.text: Too big: expected string to have <=200000 characters" */
export function formatZodError(error: z.ZodError): string {
  const parts = error.issues.slice(0, 5).map((issue) => {
    const field = issue.path.length > 0 ? issue.path.map(String).join('.') : 'input';
    return `${field}: ${issue.message}`;
  });
  if (error.issues.length > 5) parts.push(`(${error.issues.length - 5} more)`);
  return parts.join('; ');
}

export function createDispatcher<C extends ContractShape, Ctx = RequestContext>(
  contract: C,
  handlers: Handlers<C, Ctx>,
): Dispatcher<Ctx> {
  // Own properties only: "__proto__" or "constructor" must not resolve to anything.
  const lookup = (name: string): { def: C[keyof C]; handler: unknown } | null =>
    typeof name === 'string' && Object.hasOwn(contract, name) && Object.hasOwn(handlers, name)
      ? { def: contract[name as keyof C], handler: handlers[name as keyof C] }
      : null;

  const validate = (name: string, def: C[keyof C], rawInput: unknown): Result<unknown> => {
    let parsed: z.ZodSafeParseResult<unknown>;
    try {
      parsed = def.input.safeParse(rawInput);
    } catch (err) {
      return { ok: false, error: toAppError(err) };
    }
    return parsed.success ? ok(parsed.data) : fail('INVALID_INPUT', `Invalid input for ${name}: ${formatZodError(parsed.error)}`);
  };

  const unknownName = (name: unknown, kind: string): Result<never> =>
    fail('NOT_FOUND', `Unknown ${kind} "${String(name).slice(0, 100)}"`);

  return {
    kindOf(name) {
      return lookup(name)?.def.kind ?? null;
    },

    async call(name, rawInput, ctx) {
      const entry = lookup(name);
      if (!entry || entry.def.kind !== 'call') return unknownName(name, 'call');
      const input = validate(name, entry.def, rawInput);
      if (!input.ok) return input;
      try {
        const handler = entry.handler as (input: unknown, ctx: Ctx) => Promise<unknown>;
        return ok(await handler(input.value, ctx));
      } catch (err) {
        return { ok: false, error: toAppError(err) };
      }
    },

    async stream(name, rawInput, { emit, signal, ctx, onAccepted }) {
      const entry = lookup(name);
      if (!entry || entry.def.kind !== 'stream') return unknownName(name, 'stream');
      const input = validate(name, entry.def, rawInput);
      if (!input.ok) return input;
      if (signal.aborted) return { ok: false, error: CANCELLED_ERROR };
      onAccepted?.();
      let open = true;
      const guardedEmit = (event: unknown): void => {
        if (open && !signal.aborted) emit(event);
      };
      try {
        const handler = entry.handler as (input: unknown, emit: (e: unknown) => void, signal: AbortSignal, ctx: Ctx) => Promise<void>;
        await handler(input.value, guardedEmit, signal, ctx);
        return signal.aborted ? { ok: false, error: CANCELLED_ERROR } : ok(undefined);
      } catch (err) {
        return { ok: false, error: signal.aborted ? CANCELLED_ERROR : toAppError(err) };
      } finally {
        open = false;
      }
    },
  };
}
