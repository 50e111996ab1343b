// Shared option parsing for the CLI commands: strict flags, usage on --help (exit 0) and on a
// bad flag (exit 2), so each command only declares its options.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'];

export type Parsed<O extends Options> = { values: Values<O>; positionals: string[]; exitCode?: undefined } | { values?: undefined; positionals?: undefined; exitCode: number };

/** `allowPositionals` for commands that take operands (describe's files); others refuse them. */
export function parseCommand<O extends Options>(argv: string[], options: O, usage: string, allowPositionals = false): Parsed<O> {
  let values: Values<O>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals }) as { values: Values<O>; positionals: string[] });
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${usage}`);
    return { exitCode: 2 };
  }
  if ((values as { help?: boolean }).help) {
    console.log(usage);
    return { exitCode: 0 };
  }
  return { values, positionals };
}
