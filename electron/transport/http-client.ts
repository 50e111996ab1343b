// ContractClient over HTTP for the headless server: fetch for calls, SSE parsed from a fetch
// ReadableStream for streams (EventSource cannot POST). Browser and Node 20 alike.
import type { ContractClient, StreamHandle } from '../shared/client';
import type { ContractShape } from '../shared/contract-kit';
import type { Contract } from '../shared/contract';
import { CANCELLED_ERROR } from '../shared/dispatcher';
import { fail, isAppError, type Result } from '../shared/errors';
import { decodeWire, encodeWire } from '../shared/wire';
import { readSse } from '../shared/sse-reader';

export interface HttpClientOptions {
  /** Server origin; '' (default) means the page's own origin. */
  baseUrl?: string;
  /** For non-browser clients; the browser page uses its HttpOnly cookie instead. */
  apiKey?: string;
  fetch?: typeof fetch;
}

function asResult(value: unknown): Result<unknown> | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as { ok?: unknown; value?: unknown; error?: unknown };
  if (v.ok === true) return { ok: true, value: v.value };
  if (v.ok === false && isAppError(v.error)) return { ok: false, error: v.error };
  return null;
}

const unreachable = (err: unknown): Result<never> =>
  fail('INTERNAL', 'Cannot reach the FireLLaVA server', err instanceof Error ? err.message : String(err));

export function createHttpClient<C extends ContractShape = Contract>(options: HttpClientOptions = {}): ContractClient<C> {
  const base = (options.baseUrl ?? '').replace(/\/+$/, '');
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  const post = (name: string, input: unknown, signal?: AbortSignal): Promise<Response> =>
    doFetch(`${base}/rpc/${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        ...(options.apiKey ? { Authorization: `Bearer ${options.apiKey}` } : {}),
      },
      credentials: 'same-origin',
      body: encodeWire(input ?? {}),
      ...(signal ? { signal } : {}),
    });

  const readResult = async (response: Response): Promise<Result<unknown>> => {
    const text = await response.text();
    let parsed: Result<unknown> | null = null;
    try {
      parsed = asResult(decodeWire(text));
    } catch {
      // not JSON: fall through to the status line
    }
    return parsed ?? fail('INTERNAL', `The server answered ${response.status} ${response.statusText}`.trim(), text.slice(0, 200));
  };

  return {
    async call(name, input) {
      try {
        return (await readResult(await post(name, input))) as Awaited<ReturnType<ContractClient<C>['call']>>;
      } catch (err) {
        return unreachable(err);
      }
    },

    stream(name, input, onEvent): StreamHandle {
      const controller = new AbortController();
      let settled = false;
      let resolveDone!: (result: Result<void>) => void;
      const done = new Promise<Result<void>>((resolve) => (resolveDone = resolve));
      const finish = (result: Result<void>): void => {
        if (settled) return;
        settled = true;
        resolveDone(result);
      };

      void (async () => {
        try {
          const response = await post(name, input, controller.signal);
          const type = response.headers.get('content-type') ?? '';
          if (!type.startsWith('text/event-stream') || !response.body) {
            // Refused before streaming (bad input, auth): a plain JSON Result.
            const result = await readResult(response);
            return finish(result.ok ? fail('INTERNAL', 'The server did not open a stream') : result);
          }
          for await (const { event, data } of readSse(response.body)) {
            if (settled) return;
            if (event === 'event') {
              onEvent(decodeWire(data) as Parameters<typeof onEvent>[0]);
            } else if (event === 'end') {
              const result = asResult(decodeWire(data));
              return finish(result ? (result.ok ? { ok: true, value: undefined } : result) : fail('INTERNAL', 'Malformed end of stream'));
            }
          }
          finish(fail('INTERNAL', 'The connection closed before the stream finished'));
        } catch (err) {
          finish(controller.signal.aborted ? { ok: false, error: CANCELLED_ERROR } : unreachable(err));
        }
      })();

      return {
        cancel() {
          if (settled) return;
          finish({ ok: false, error: CANCELLED_ERROR });
          controller.abort(); // closes the connection; the server aborts the handler
        },
        done,
      };
    },
  };
}
