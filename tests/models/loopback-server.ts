// A file server on 127.0.0.1 for download tests and the download benchmark: Range requests,
// ETag, throttling, connections cut at chosen offsets, scripted error statuses and corrupted bytes.
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedFile {
  /** Path on disk. */
  path: string;
  /** Statuses answered before serving normally, one per request (e.g. [500, 500]). */
  failFirst?: number[];
  /** Answer every request with this status. */
  alwaysStatus?: number;
  /** Absolute byte offsets at which a response is cut (each used once, in any request that crosses it). */
  cutAt?: number[];
  /** XOR 0xff into the byte at this offset on the wire. */
  corruptAt?: number;
  /** Require this bearer token (401 without, 403 with a wrong one). */
  token?: string;
  /** Answer 302 to this absolute URL (a CDN on another origin). */
  redirectTo?: string;
}

export interface LoopbackServer {
  origin: string;
  url(name: string): string;
  files: Map<string, ServedFile>;
  /** Body bytes written, per file name. */
  served: Map<string, number>;
  requests: { name: string; range: string | null; authorization: string | null }[];
  /** Bytes per second for every response; 0 = unthrottled. */
  throttle: number;
  close(): Promise<void>;
}

export async function startLoopbackServer(files: Record<string, ServedFile> = {}): Promise<LoopbackServer> {
  const state: LoopbackServer = {
    origin: '',
    url: (name) => `${state.origin}/${name}`,
    files: new Map(Object.entries(files)),
    served: new Map(),
    requests: [],
    throttle: 0,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = http.createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').split('?')[0]!.slice(1));
    const file = state.files.get(name);
    state.requests.push({ name, range: req.headers.range ?? null, authorization: req.headers.authorization ?? null });
    if (!file) {
      res.writeHead(404).end('not found');
      return;
    }
    if (file.redirectTo !== undefined) {
      res.writeHead(302, { location: file.redirectTo }).end();
      return;
    }
    if (file.token !== undefined) {
      const auth = req.headers.authorization;
      if (!auth) return void res.writeHead(401).end('unauthorized');
      if (auth !== `Bearer ${file.token}`) return void res.writeHead(403).end('forbidden');
    }
    const scripted = file.failFirst?.shift() ?? file.alwaysStatus;
    if (scripted !== undefined) {
      res.writeHead(scripted).end(`status ${scripted}`);
      return;
    }
    const st = statSync(file.path);
    const size = st.size;
    const etag = `"${size}-${Math.floor(st.mtimeMs)}"`;
    let start = 0;
    let end = size - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const useRange = range && (!ifRange || ifRange === etag);
    if (useRange) {
      start = Number(range[1]);
      if (range[2]) end = Math.min(end, Number(range[2]));
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
    }
    res.writeHead(useRange ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(end - start + 1),
      'accept-ranges': 'bytes',
      etag,
      ...(useRange ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    });
    // The first pending cut inside this response ends it early (cleanly, so the bytes before it arrive).
    const cuts = (file.cutAt ?? []).filter((c) => c > start && c <= end).sort((a, b) => a - b);
    const cut = cuts[0];
    if (cut !== undefined) file.cutAt = (file.cutAt ?? []).filter((c) => c !== cut);
    const stop = cut !== undefined ? cut - 1 : end;
    const stream = createReadStream(file.path, { start, end: stop, highWaterMark: 64 * 1024 });
    let pos = start;
    const began = Date.now();
    stream.on('data', (chunk) => {
      const buf = Buffer.from(chunk as Buffer);
      if (file.corruptAt !== undefined && file.corruptAt >= pos && file.corruptAt < pos + buf.length) {
        const i = file.corruptAt - pos;
        buf[i] = (buf[i] as number) ^ 0xff;
      }
      pos += buf.length;
      state.served.set(name, (state.served.get(name) ?? 0) + buf.length);
      const more = res.write(buf);
      const wait = state.throttle > 0 ? began + ((pos - start) / state.throttle) * 1000 - Date.now() : 0;
      if (!more || wait > 0) {
        stream.pause();
        let drained = more;
        let waited = wait <= 0;
        const go = (): void => {
          if (drained && waited) stream.resume();
        };
        if (!more) res.once('drain', () => ((drained = true), go()));
        if (wait > 0) setTimeout(() => ((waited = true), go()), wait);
      }
    });
    stream.on('end', () => {
      if (cut !== undefined) {
        // Flush what was written, then close the socket short of Content-Length.
        res.socket?.end();
      } else res.end();
    });
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
