// Building blocks for the one typed contract. Transports iterate over the definitions;
// nothing here knows about Electron or HTTP.
import type { z } from 'zod';

/** A request with one answer. */
export interface CallDef<I extends z.ZodType = z.ZodType, O = unknown> {
  readonly kind: 'call';
  readonly input: I;
  /** Phantom field: carries the output type, never set at run time. */
  readonly output?: O;
}

/** A request answered by a sequence of events until the server ends it or the client cancels. */
export interface StreamDef<I extends z.ZodType = z.ZodType, E = unknown> {
  readonly kind: 'stream';
  readonly input: I;
  /** Phantom field: carries the event type, never set at run time. */
  readonly event?: E;
}

export const call =
  <O>() =>
  <I extends z.ZodType>(input: I): CallDef<I, O> => ({ kind: 'call', input });

export const stream =
  <E>() =>
  <I extends z.ZodType>(input: I): StreamDef<I, E> => ({ kind: 'stream', input });

export type AnyDef = CallDef | StreamDef;
export type ContractShape = Record<string, AnyDef>;

export type InputOf<D> = D extends CallDef<infer I, unknown> ? z.input<I> : D extends StreamDef<infer I, unknown> ? z.input<I> : never;
export type ParsedInputOf<D> = D extends CallDef<infer I, unknown> ? z.output<I> : D extends StreamDef<infer I, unknown> ? z.output<I> : never;
export type OutputOf<D> = D extends CallDef<z.ZodType, infer O> ? O : never;
export type EventOf<D> = D extends StreamDef<z.ZodType, infer E> ? E : never;

export type CallNames<C extends ContractShape> = { [K in keyof C]: C[K] extends CallDef ? K : never }[keyof C] & string;
export type StreamNames<C extends ContractShape> = { [K in keyof C]: C[K] extends StreamDef ? K : never }[keyof C] & string;
