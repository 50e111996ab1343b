// Shared option parsing for the CLI commands: strict flags, usage on --help (exit 0) and on a
// bad flag (exit 2), so each command only declares its options.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'];

export type Parsed<O extends Options> = { values: Values<O>; exitCode?: undefined } | { values?: undefined; exitCode: number };

export function parseCommand<O extends Options>(argv: string[], options: O, usage: string): Parsed<O> {
  let values: Values<O>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${usage}`);
    return { exitCode: 2 };
  }
  if ((values as { help?: boolean }).help) {
    console.log(usage);
    return { exitCode: 0 };
  }
  return { values };
}
