// Shared pieces of the API tests: raw HTTP with the test key and OpenAI error bodies; the serve
// process, the long-context model and image data URLs come from tests/helpers/served-api.ts.
import { KEY } from '../helpers/served-api';
import { raw, type RawResponse } from '../helpers/raw-http';

export { CLI, dataUrl, ensureBuilt, KEY, startServe, waitForModel, writeLongContextPair, type Served } from '../helpers/served-api';
export { raw, type RawResponse } from '../helpers/raw-http';

export const postJson = (port: number, route: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> =>
  raw(port, {
    method: 'POST',
    path: route,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

export interface ApiErrorShape {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorOf(r: RawResponse): ApiErrorShape['error'] {
  const parsed = JSON.parse(r.body) as ApiErrorShape;
  return parsed.error;
}
