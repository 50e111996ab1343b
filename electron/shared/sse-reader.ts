// One Server-Sent Events reader for every client we have: the HTTP transport (renderer in
// `serve`), the remote engine (an OpenAI-compatible server) and the tests. Reader-based, since
// browsers cannot iterate a ReadableStream with for-await everywhere.

export interface SseEvent {
  /** The `event:` field; "message" when absent. */
  event: string;
  /** The `data:` lines joined with newlines. */
  data: string;
}

/** Yields each event of an SSE body; comments and events without data are skipped, as the spec says. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        return;
      }
      buffer += decoder.decode(value, { stream: true });
      let sep: RegExpExecArray | null;
      while ((sep = /\r?\n\r?\n/.exec(buffer))) {
        const block = buffer.slice(0, sep.index);
        buffer = buffer.slice(sep.index + sep[0].length);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = val;
          else if (field === 'data') data.push(val);
        }
        const joined = data.join('\n');
        if (joined !== '') yield { event, data: joined };
      }
    }
  } finally {
    // A consumer that stops early drops the rest of the body (and so the connection).
    if (!ended) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
