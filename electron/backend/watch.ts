// The shape every *.watch stream shares: subscribe, send the current state, hold the stream
// open until the caller cancels, then unsubscribe.
export async function watchUntilAborted<E>(signal: AbortSignal, emit: (e: E) => void, subscribe: (emit: (e: E) => void) => () => void, current: () => E): Promise<void> {
  if (signal.aborted) return;
  const off = subscribe(emit);
  try {
    emit(current());
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  } finally {
    off();
  }
}
