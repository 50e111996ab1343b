// Chat history at scale: 10,000 conversations, 200,000 messages (one conversation of 2,000), then
// the three reads the UI does all day. Returns a Markdown table; `npm run bench` prints it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HistoryStore } from '../electron/store/history-store';

export interface StoreBenchOptions {
  conversations?: number;
  messages?: number;
  longConversation?: number;
  rounds?: number;
  /** Tokens of the streamed answer in the FTS write row. */
  answerTokens?: number;
}

const DOMAIN =
  'the a of and to is in it with for this on that product mug ceramic glaze handle blue red green matte glossy bottle label screenshot window button error dialog chart invoice table price title feature cotton shirt leather boot wooden chair lamp shade kitchen garden photo camera lens receipt total amount menu settings profile avatar axis legend value'.split(
    ' ',
  );
const SYLLABLES = 'ka lo mi ne ru sa ti vo ze ba de fi go hu ja ke li mo nu pa'.split(' ');

/** Deterministic text with a Zipf word distribution over ~8,000 words, like real prose. */
function textGen(seed: number): (n: number) => string {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const words = [...DOMAIN];
  for (const a of SYLLABLES) for (const b of SYLLABLES) for (const c of SYLLABLES) words.push(a + b + c);
  const cumulative: number[] = [];
  let total = 0;
  for (let r = 1; r <= words.length; r++) cumulative.push((total += 1 / r));
  const pick = (): string => {
    const x = next() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return words[lo]!;
  };
  return (n) => Array.from({ length: n }, pick).join(' ');
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function time(rounds: number, fn: () => unknown): number {
  fn(); // warm the page cache and statement cache
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  return median(samples);
}

interface WriteCost {
  total: number;
  max: number;
}

/**
 * The chat service's hot write: a 2,000-token answer at 100 tok/s flushed every 250 ms rewrites the
 * row's whole text. Measured as the store does it (the row joins the search index once, when it
 * ends: migration 8), then with the per-flush re-indexing trigger that came before it.
 */
function streamingWrite(store: HistoryStore, text: (n: number) => string, tokens: number): { tokens: number; flushes: number; indexOnce: WriteCost; perFlush: WriteCost } {
  const db = store.db;
  const perFlush = 25; // 100 tok/s × 250 ms
  const words = text(tokens).split(' ');
  const conv = store.createConversation('Streaming');
  const run = (status: 'streaming' | 'complete'): WriteCost => {
    const m = store.addMessage({ conversationId: conv.id, parentId: null, role: 'assistant', text: '', status });
    const samples: number[] = [];
    const timed = (fn: () => unknown): void => {
      const t = performance.now();
      fn();
      samples.push(performance.now() - t);
    };
    for (let n = perFlush; n < words.length + perFlush; n += perFlush) timed(() => store.updateText(m.id, words.slice(0, n).join(' ')));
    timed(() => store.finishMessage(m.id, { status: 'complete', text: words.join(' ') }));
    return { total: samples.reduce((x, y) => x + y, 0), max: Math.max(...samples) };
  };
  const indexOnce = run('streaming');
  const trigger = (db.prepare("SELECT sql FROM sqlite_master WHERE name = 'messages_fts_update'").get() as { sql: string }).sql;
  db.exec(`DROP TRIGGER messages_fts_update;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
      INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
      INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
    END;`);
  let before: WriteCost;
  try {
    // Before migration 8 every row was indexed from its insert on; 'complete' keeps that true here.
    before = run('complete');
  } finally {
    db.exec(`DROP TRIGGER messages_fts_update; ${trigger}`);
  }
  return { tokens, flushes: Math.ceil(tokens / perFlush), indexOnce, perFlush: before };
}

export async function storeBench(options: StoreBenchOptions = {}): Promise<string> {
  const nConv = options.conversations ?? 10_000;
  const nMsg = options.messages ?? 200_000;
  const nLong = options.longConversation ?? 2_000;
  const rounds = options.rounds ?? 9;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'firellava-store-bench-'));
  const store = HistoryStore.open(path.join(dir, 'history.sqlite'), { backup: false });
  try {
    const text = textGen(42);
    const seedStart = performance.now();
    const db = store.db;
    const addConv = db.prepare('INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)');
    const addMsg = db.prepare(
      "INSERT INTO messages (conversation_id, parent_id, role, text, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'complete', ?, ?)",
    );
    const setLeaf = db.prepare('UPDATE conversations SET active_leaf_id = ? WHERE id = ?');
    const longId = 'long-conversation';
    db.transaction(() => {
      let t = 1_700_000_000_000;
      const fill = (id: string, count: number): void => {
        let parent: number | null = null;
        for (let i = 0; i < count; i++) {
          const role = i % 2 === 0 ? 'user' : 'assistant';
          parent = Number(addMsg.run(id, parent, role, text(role === 'user' ? 12 : 60), t, t).lastInsertRowid);
          t += 1000;
        }
        setLeaf.run(parent, id);
      };
      addConv.run(longId, 'Long conversation', t, t);
      fill(longId, nLong);
      const rest = nMsg - nLong;
      for (let c = 1; c < nConv; c++) {
        const id = `conv-${c}`;
        addConv.run(id, text(4), t, t + c);
        fill(id, Math.floor(rest / (nConv - 1)) + (c <= rest % (nConv - 1) ? 1 : 0));
      }
    })();
    db.pragma('optimize');
    const seedMs = performance.now() - seedStart;
    const counts = db.prepare('SELECT (SELECT count(*) FROM conversations) AS c, (SELECT count(*) FROM messages) AS m').get() as { c: number; m: number };

    const list500 = time(rounds, () => store.listConversations({ limit: 500 }));
    const listAll = time(rounds, () => store.listConversations({ limit: 10_000 }));
    const hits = (q: string): number => (db.prepare('SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH ?').get(q) as { n: number }).n;
    const searchCommon = time(rounds, () => store.search('the', 50));
    const searchWord = time(rounds, () => store.search('glaze', 50));
    const searchTwo = time(rounds, () => store.search('leather boot', 50));
    const searchRare = time(rounds, () => store.search('kalomi', 50));
    const searchPrefix = time(rounds, () => store.search('scree', 50));
    const open = time(rounds, () => store.getConversation(longId));
    const opened = store.getConversation(longId).messages.length;
    const stream = streamingWrite(store, text, options.answerTokens ?? 2_000);
    const mark = (v: number, limit: number): string => `${v.toFixed(2)} ${v < limit ? '✓' : '✗'}`;
    return [
      `Store: ${counts.c.toLocaleString('en')} conversations, ${counts.m.toLocaleString('en')} messages (FTS5-indexed), seeded in ${(seedMs / 1000).toFixed(1)} s; medians of ${rounds} runs.`,
      '',
      '| operation | ms (target) |',
      '|---|---|',
      `| sidebar list, newest 500 | ${mark(list500, 100)} (< 100) |`,
      `| sidebar list, all ${counts.c.toLocaleString('en')} | ${mark(listAll, 100)} (< 100) |`,
      `| search "the" (most common word, ${hits('the').toLocaleString('en')} messages), newest 50 | ${mark(searchCommon, 50)} (< 50) |`,
      `| search "glaze" (${hits('glaze').toLocaleString('en')} messages), newest 50 | ${mark(searchWord, 50)} (< 50) |`,
      `| search "leather boot" (both words, ${hits('"leather" "boot"').toLocaleString('en')} messages), newest 50 | ${mark(searchTwo, 50)} (< 50) |`,
      `| search "kalomi" (${hits('kalomi').toLocaleString('en')} messages) | ${mark(searchRare, 50)} (< 50) |`,
      `| search "scree" (prefix of "screenshot"), newest 50 | ${mark(searchPrefix, 50)} (< 50) |`,
      `| open the ${opened.toLocaleString('en')}-message conversation | ${mark(open, 150)} (< 150) |`,
      '',
      `Streaming answer: ${stream.tokens.toLocaleString('en')} tokens at 100 tok/s, saved every 250 ms (${stream.flushes} flushes, the whole partial text each time).`,
      '',
      '| write | total ms over the answer (flushes + final save) | slowest write ms |',
      '|---|---|---|',
      `| indexed once, when the answer ends (the store since migration 8) | ${stream.indexOnce.total.toFixed(1)} | ${stream.indexOnce.max.toFixed(2)} |`,
      `| re-indexed at every flush (before migration 8) | ${stream.perFlush.total.toFixed(1)} | ${stream.perFlush.max.toFixed(2)} |`,
    ].join('\n');
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
}
