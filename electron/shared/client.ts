// What the renderer programs against. Implemented by the IPC client (preload) and the HTTP client.
import type { CallNames, ContractShape, EventOf, InputOf, OutputOf, StreamNames } from './contract-kit';
import type { Contract } from './contract';
import type { Result } from './errors';

export interface StreamHandle {
  /** Stops the stream; the handler's AbortSignal fires and `done` resolves with code CANCELLED. */
  cancel(): void;
  /** Resolves once: ok when the handler finished, else the error (INVALID_INPUT, CANCELLED, ...). */
  done: Promise<Result<void>>;
}

export interface ContractClient<C extends ContractShape = Contract> {
  call<N extends CallNames<C>>(name: N, input: InputOf<C[N]>): Promise<Result<OutputOf<C[N]>>>;
  stream<N extends StreamNames<C>>(name: N, input: InputOf<C[N]>, onEvent: (event: EventOf<C[N]>) => void): StreamHandle;
}
