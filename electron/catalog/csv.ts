// RFC 4180 CSV: CRLF rows, fields quoted when they hold a comma, quote, CR or LF, quotes doubled.
// The reader takes what spreadsheets write (LF or CRLF, a UTF-8 BOM, ';' is not a separator).

const NEEDS_QUOTES = /[",\r\n]/;
/** Cells a spreadsheet would run as a formula; prefixed with ' (OWASP CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string, guardFormulas = false): string {
  let v = value;
  if (guardFormulas && FORMULA_START.test(v) && !/^-?\d/.test(v)) v = `'${v}`;
  return NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function writeCsv(header: readonly string[], rows: readonly (readonly string[])[], options: { bom?: boolean; guardFormulas?: boolean } = {}): string {
  const g = options.guardFormulas ?? true;
  const out: string[] = [header.map((h) => csvCell(h)).join(',')];
  for (const row of rows) out.push(row.map((c) => csvCell(c, g)).join(','));
  return `${options.bom ? '\uFEFF' : ''}${out.join('\r\n')}\r\n`;
}

/** Rows of cells; throws on an unterminated quote. */
export function parseCsv(text: string): string[][] {
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  let quoted = false;
  let any = false;
  while (i < s.length) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      cell += c;
      i++;
      continue;
    }
    if (c === '"' && cell === '') {
      quoted = true;
      any = true;
      i++;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
      any = true;
      i++;
    } else if (c === '\r' || c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      any = false;
      i += c === '\r' && s[i + 1] === '\n' ? 2 : 1;
    } else {
      cell += c;
      any = true;
      i++;
    }
  }
  if (quoted) throw new Error('The CSV ends inside a quoted field');
  if (any || cell !== '') {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
