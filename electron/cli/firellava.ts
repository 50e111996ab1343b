// `firellava <command>`: headless entry points. Each command lives in its own module and is
// loaded on demand so `firellava fixtures` never loads the engine or the server.
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  serve: { summary: 'run the backend and the web UI without Electron', load: () => import('./commands/serve') },
  fixtures: { summary: 'write the tiny deterministic test models and images', load: () => import('./commands/fixtures') },
  pull: { summary: 'download a model pair (resumable) into --data-dir', load: () => import('./commands/pull') },
  models: { summary: 'list installed model pairs and their status', load: () => import('./commands/models') },
  describe: { summary: 'write shop copy for a folder of product photos (CSV, JSONL, Markdown)', load: () => import('./commands/describe') },
  convert: { summary: 'turn a Hugging Face LLaVA checkpoint into the GGUF pair', load: () => import('./commands/convert') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: firellava <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "firellava <command> --help" for its options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`Unknown command "${name}".\n\n${usage()}`);
    return 2;
  }
  return (await command.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
