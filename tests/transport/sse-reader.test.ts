// The one SSE reader (HTTP transport, remote engine): events split anywhere across chunks.
import { describe, expect, it } from 'vitest';
import { readSse } from '../../electron/shared/sse-reader';

const bodyOf = (chunks: string[]): ReadableStream<Uint8Array> => {
  const bytes = chunks.map((c) => new TextEncoder().encode(c));
  return new ReadableStream({
    pull(controller) {
      const next = bytes.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
};

const all = async (body: ReadableStream<Uint8Array>) => {
  const out = [];
  for await (const e of readSse(body)) out.push(e);
  return out;
};

describe('readSse', () => {
  it('joins events cut mid-line and mid-character, skips comments and events without data', async () => {
    const text = ': keep-alive\r\n\r\nevent: event\ndata: {"text":"café"}\n\ndata: line 1\ndata: line 2\n\ndata:\n\nevent: end\ndata: {"ok":true}\n\n';
    const bytes = new TextEncoder().encode(text);
    // Three-byte pieces split the two-byte "é" and every "\n\n".
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 3) chunks.push(bytes.slice(i, i + 3));
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    expect(await all(body)).toEqual([
      { event: 'event', data: '{"text":"café"}' },
      { event: 'message', data: 'line 1\nline 2' },
      { event: 'end', data: '{"ok":true}' },
    ]);
  });

  it('cancels the body when the reader stops early', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('data: more\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const e of readSse(body)) {
      expect(e.data).toBe('more');
      break;
    }
    expect(cancelled).toBe(true);
    expect(await all(bodyOf([]))).toEqual([]);
  });
});
