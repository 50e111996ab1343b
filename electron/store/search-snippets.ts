// Search snippets with bounded work. FTS5's snippet() is quadratic in the hits inside one row (four
// 200 KB messages of one repeated word: half a minute with every request blocked), so it never runs
// on a stored message: only on a short window around the first hit, in a scratch FTS table.
import type Database from 'better-sqlite3';

/** Characters of a message the snippet may look at (a few hundred hits at most). */
export const SNIPPET_WINDOW = 1000;
const BEFORE = 300;
const TOKEN = /[\p{L}\p{N}\p{M}]+/gu;

/** The query's words, as unicode61 with remove_diacritics compares them. */
const fold = (word: string): string => word.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

export function queryWords(input: string): string[] {
  return (input.match(TOKEN) ?? []).map(fold).filter((w) => w.length > 0);
}

/** Where the first word of the query (the last as a prefix) appears in the text; 0 when not found. */
function firstHit(text: string, words: readonly string[]): number {
  const last = words.at(-1);
  for (const token of text.matchAll(TOKEN)) {
    const t = fold(token[0]);
    if (words.includes(t) || (last !== undefined && t.startsWith(last))) return token.index;
  }
  return 0;
}

function windowOf(text: string, words: readonly string[]): { text: string; cutStart: boolean; cutEnd: boolean } {
  if (text.length <= SNIPPET_WINDOW) return { text, cutStart: false, cutEnd: false };
  let start = Math.max(0, firstHit(text, words) - BEFORE);
  let end = Math.min(text.length, start + SNIPPET_WINDOW);
  // Never split a surrogate pair.
  if (start > 0 && /[\uDC00-\uDFFF]/.test(text[start]!)) start--;
  if (end < text.length && /[\uDC00-\uDFFF]/.test(text[end]!)) end++;
  return { text: text.slice(start, end), cutStart: start > 0, cutEnd: end < text.length };
}

/** Snippets (hits between \u0002 and \u0003) for a page of search results, keyed by message id. */
export function snippetsFor(db: Database.Database, input: string, rows: readonly { id: number; text: string }[]): Map<number, string> {
  const out = new Map<number, string>();
  const words = queryWords(input);
  if (rows.length === 0 || words.length === 0) return out;
  const windows = new Map(rows.map((r) => [r.id, windowOf(r.text, words)]));
  // Any word, so a window that holds only some of them is still highlighted.
  const anyWord = words.map((w, i) => `"${w}"${i === words.length - 1 ? '*' : ''}`).join(' OR ');
  db.transaction(() => {
    db.exec("CREATE VIRTUAL TABLE IF NOT EXISTS temp.snippet_windows USING fts5(text, tokenize = 'unicode61 remove_diacritics 2')");
    db.exec('DELETE FROM temp.snippet_windows');
    const put = db.prepare('INSERT INTO temp.snippet_windows (rowid, text) VALUES (?, ?)');
    for (const [id, w] of windows) put.run(id, w.text);
    const found = db
      .prepare("SELECT rowid AS id, snippet(snippet_windows, 0, char(2), char(3), '…', 12) AS snippet FROM temp.snippet_windows WHERE snippet_windows MATCH ?")
      .all(anyWord) as { id: number; snippet: string }[];
    for (const f of found) out.set(f.id, f.snippet);
    db.exec('DELETE FROM temp.snippet_windows');
  })();
  for (const [id, w] of windows) {
    let s = out.get(id) ?? `${w.text.slice(0, 80)}${w.text.length > 80 ? '…' : ''}`;
    if (w.cutStart && !s.startsWith('…')) s = `…${s}`;
    if (w.cutEnd && !s.endsWith('…')) s = `${s}…`;
    out.set(id, s);
  }
  return out;
}
