// `firellava serve`: the backend and the web UI over HTTP, without Electron. Prints exactly one
// line on stdout (the URL with the key) once it accepts requests; everything else goes to stderr.
import os from 'node:os';
import path from 'node:path';
import pkg from '../../../package.json';
import { createOpenAiApi } from '../../api/openai-api';
import { createBackend } from '../../backend/backend';
import { installFaultPolicy } from '../../backend/fault-policy';
import { createLocalEngine } from '../../engine/engine-host';
import { generateApiKey } from '../../server/auth';
import { startHttpServer } from '../../server/http-server';
import { parseCommand } from '../parse-command';

const USAGE = `Usage: firellava serve [options]

Options:
  --model FILE         FireLLaVA GGUF weights to load at start
  --mmproj FILE        vision projector GGUF (needs --model)
  --host NAME          address to listen on (default 127.0.0.1)
  --port N             port (default 0: pick a free one)
  --data-dir DIR       where attachments and models are kept (default ~/.firellava); without
                       --model the active pair installed there (firellava pull) is loaded
  --api-key KEY        key for the web UI and API; visible to other users in ps, so prefer the
                       FIRELLAVA_API_KEY environment variable (default: that, else a new random one)
  --allowed-host NAME  extra Host header name to accept (repeatable; for --host 0.0.0.0 behind a name)
  --static-dir DIR     built renderer to serve (default: dist/renderer next to this program)
  --api-cors-origin URL  browser origin allowed to call the OpenAI-compatible API under /v1 (repeatable)
  --api-fetch-images   let the API download http(s) image URLs (off: offline, data: URLs only)
  --cpu                never try GPU builds
  --verbose            pass the engine's native log to stderr
  -h, --help           show this help`;

export async function run(argv: string[]): Promise<number> {
  const cli = parseCommand(
    argv,
    {
      model: { type: 'string' },
      mmproj: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'data-dir': { type: 'string' },
      'api-key': { type: 'string' },
      'allowed-host': { type: 'string', multiple: true },
      'static-dir': { type: 'string' },
      'api-cors-origin': { type: 'string', multiple: true },
      'api-fetch-images': { type: 'boolean', default: false },
      cpu: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    USAGE,
  );
  if (cli.exitCode !== undefined) return cli.exitCode;
  const { values } = cli;
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a number from 0 to 65535, got "${values.port}"`);
    return 2;
  }
  if (values.mmproj && !values.model) {
    console.error('--mmproj needs --model');
    return 2;
  }
  // An empty FIRELLAVA_API_KEY counts as unset.
  const apiKey = values['api-key'] ?? (process.env.FIRELLAVA_API_KEY || generateApiKey());
  if (values['api-key'] !== undefined) {
    console.error('Warning: --api-key shows the key to every user of this machine (ps, /proc); set FIRELLAVA_API_KEY instead.');
  }
  if (apiKey.length < 16 || /[^\x21-\x7e]/.test(apiKey)) {
    console.error('The API key must be at least 16 printable characters without spaces');
    return 2;
  }
  const dataDir = path.resolve(values['data-dir'] ?? path.join(os.homedir(), '.firellava'));
  const staticDir = path.resolve(values['static-dir'] ?? path.join(__dirname, '..', 'renderer'));

  const engine = createLocalEngine({
    cpuOnly: values.cpu,
    cacheDir: path.join(dataDir, 'kv-cache'),
    ...(values.verbose ? { onLog: (text: string) => process.stderr.write(text) } : {}),
  });
  const backend = createBackend({ dataDir, engine, app: { name: 'FireLLaVA', version: pkg.version } });
  for (const notice of backend.startupNotices) console.error(`Warning: ${notice}`);
  installFaultPolicy({
    name: 'firellava serve',
    exit: (code) => {
      // One last save of finished answers; the engine worker ends with its IPC channel.
      try {
        backend.chat.dispose();
      } finally {
        process.exit(code);
      }
    },
  });

  let server;
  try {
    server = await startHttpServer(values.host, port, {
      dispatcher: backend.dispatcher,
      apiKey,
      staticDir,
      allowedHosts: values['allowed-host'] ?? [],
      attachmentFile: backend.attachmentFile,
      // The OpenAI-compatible API, always on under /v1 with the same key.
      api: createOpenAiApi({
        engine,
        attachments: backend.attachments,
        apiKey,
        allowedHosts: [...(values['allowed-host'] ?? []), values.host],
        corsOrigins: values['api-cors-origin'] ?? [],
        fetchImages: values['api-fetch-images'],
        log: (line) => console.error(line),
      }),
    });
  } catch (err) {
    await engine.dispose();
    console.error(`Cannot listen on ${values.host}:${port}: ${(err as Error).message}`);
    return 1;
  }

  console.log(`FireLLaVA ready at ${server.origin}/?key=${encodeURIComponent(apiKey)}`);
  if (values.host !== '127.0.0.1' && values.host !== 'localhost' && values.host !== '::1') {
    console.error(`Warning: listening on ${values.host}; anyone who can reach it and has the key can use the model.`);
  }

  if (values.model) {
    const model = path.resolve(values.model);
    const mmproj = values.mmproj ? path.resolve(values.mmproj) : null;
    void engine.load({ model, mmproj }).then((result) => {
      if (!result.ok) console.error(`Model not loaded: ${result.error.message}${result.error.detail ? ` (${result.error.detail})` : ''}`);
    });
  } else {
    // No --model: the active installed pair of --data-dir (see `firellava models`).
    void backend.models.activePair().then(
      async (active) => {
        if (!active) return console.error(`No ready model in ${path.join(dataDir, 'models')}: add one with firellava pull --data-dir ${dataDir}, or pass --model and --mmproj`);
        console.error(`Loading ${active.model.name} (${active.model.id})`);
        const result = await engine.load(active.paths);
        if (!result.ok) console.error(`Model not loaded: ${result.error.message}${result.error.detail ? ` (${result.error.detail})` : ''}`);
      },
      (err: unknown) => console.error(`Cannot read the installed models: ${(err as Error).message}`),
    );
  }

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // A second signal while shutting down exits at once.
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await Promise.all([server.close(), engine.dispose()]);
  await backend.close();
  return 0;
}
