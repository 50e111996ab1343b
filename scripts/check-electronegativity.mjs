// Runs electronegativity over the built main, preload and renderer, and fails on any HIGH or MEDIUM
// finding that resources/electronegativity-allowlist.json does not justify.
//
//   node scripts/check-electronegativity.mjs              scan dist/ (build first)
//   node scripts/check-electronegativity.mjs --csv FILE   only judge an existing CSV report
//
// Why not its CLI: it exits 0 even with HIGH findings, its commander is the hoisted v10 whose API it
// does not speak (it prints usage and stops), and it only scans .js/.ts/.html, while our bundles are
// .cjs. So the bundles are copied as .js into a temp folder and the runner is called directly.
// -e 45.0.0 is passed as electronVersionOverride; the release-list check that needs the internet is
// excluded (the Electron version is pinned in package.json and reviewed on upgrade instead).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import esbuild from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '..');
const ALLOWLIST = path.join(ROOT, 'resources', 'electronegativity-allowlist.json');
const SCANNED = ['main', 'preload', 'renderer'];
const FAILING = new Set(['HIGH', 'MEDIUM']);

/** RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines. */
export function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field), rows.push(row), (row = []), (field = '');
    } else field += c;
  }
  if (field !== '' || row.length > 0) row.push(field), rows.push(row);
  const [header, ...body] = rows.filter((r) => r.some((f) => f.trim() !== ''));
  if (!header) return [];
  const keys = header.map((h) => h.trim());
  return body.map((r) => Object.fromEntries(keys.map((k, i) => [k, (r[i] ?? '').trim()])));
}

/** Findings that fail the check: HIGH/MEDIUM and not matched by an allowlist entry. */
export function judge(findings, allowlist) {
  for (const entry of allowlist) {
    if (typeof entry.check !== 'string' || typeof entry.reason !== 'string' || entry.reason.trim().length < 20) {
      throw new Error(`allowlist entry ${JSON.stringify(entry)} needs a "check" and a "reason" of at least 20 characters`);
    }
  }
  const used = new Set();
  const failing = findings.filter((f) => {
    if (!FAILING.has(f.severity)) return false;
    const i = allowlist.findIndex(
      (a) => a.check === f.issue && (a.file === undefined || a.file === f.filename) && (a.sample === undefined || f.sample.includes(a.sample)),
    );
    if (i >= 0) used.add(i);
    return i < 0;
  });
  const unused = allowlist.filter((_, i) => !used.has(i));
  return { failing, unused };
}

function copyAsJs(from, to) {
  for (const name of readdirSync(from)) {
    const src = path.join(from, name);
    if (statSync(src).isDirectory()) copyAsJs(src, path.join(to, name));
    else if (/\.c?js$/.test(name)) {
      // Lowered to ES2019: its AST walker stops at class private fields (Svelte 5 output) with
      // "Unknown node type ClassPrivateProperty". Calls, properties and strings stay as they were.
      const code = esbuild.transformSync(readFileSync(src, 'utf8'), { loader: 'js', target: 'es2019', format: name.endsWith('.cjs') ? 'cjs' : undefined }).code;
      mkdirSync(to, { recursive: true });
      writeFileSync(path.join(to, name.replace(/\.cjs$/, '.js')), code);
    } else if (!name.endsWith('.map')) cpSync(src, path.join(to, name));
  }
}

async function scan() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'firellava-electronegativity-'));
  try {
    for (const part of SCANNED) {
      const src = path.join(ROOT, 'dist', part);
      try {
        statSync(src);
      } catch {
        throw new Error(`${path.relative(ROOT, src)} is missing: build first (npm run build)`);
      }
      copyAsJs(src, path.join(dir, 'app', part));
    }
    const csv = path.join(dir, 'report.csv');
    const run = createRequire(import.meta.url)('@doyensec/electronegativity/dist/runner.js');
    const log = console.log;
    console.log = () => {}; // it prints progress and a "no connectivity" line; the CSV is what counts
    let result;
    try {
      result = await run(
        {
          input: path.join(dir, 'app'),
          output: csv,
          isSarif: false,
          customScan: [],
          excludeFromScan: ['AvailableSecurityFixesGlobalCheck'],
          isRelative: true,
          isVerbose: false,
          electronVersionOverride: '45.0.0',
          parserPlugins: [],
        },
        false,
      );
    } finally {
      console.log = log;
    }
    // A file it could not parse was not checked at all: that must fail, not pass quietly.
    if (result.errors.length > 0) throw new Error(`electronegativity could not parse: ${result.errors.map((e) => `${e.file}: ${e.message}`).join('; ')}`);
    // It writes the CSV with two unawaited fs.writeFile calls (header, then rows): wait for both,
    // and never judge a report with fewer rows than the scan found.
    const expected = result.issues.length;
    for (let waited = 0; ; waited += 50) {
      let rows = -1;
      try {
        rows = parseCsv(readFileSync(csv, 'utf8')).length;
      } catch {}
      if (rows === expected) break;
      if (waited > 5000) throw new Error(`electronegativity's CSV has ${rows} rows, its scan found ${expected} issues`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return readFileSync(csv, 'utf8');
  } finally {
    // A late write of its report may still land; cleanup must never hide the real error.
    setTimeout(() => rmSync(dir, { recursive: true, force: true, maxRetries: 3 }), 200);
  }
}

// Its two unawaited CSV writes can also finish header-last, leaving a report without rows: scan again.
async function scanWithRetry() {
  for (let attempt = 1; ; attempt++) {
    try {
      return await scan();
    } catch (err) {
      if (attempt >= 3 || !/CSV has/.test(String(err?.message))) throw err;
    }
  }
}

async function main() {
  const csvArg = process.argv.indexOf('--csv');
  const started = Date.now();
  const text = csvArg >= 0 ? readFileSync(process.argv[csvArg + 1], 'utf8') : await scanWithRetry();
  const findings = parseCsv(text);
  const allowlist = JSON.parse(readFileSync(ALLOWLIST, 'utf8'));
  const { failing, unused } = judge(findings, allowlist);
  for (const a of unused) console.warn(`allowlist entry no longer needed: ${a.check}${a.file ? ` in ${a.file}` : ''}`);
  const counts = findings.reduce((m, f) => ((m[f.severity] = (m[f.severity] ?? 0) + 1), m), {});
  console.log(`electronegativity: ${findings.length} findings ${JSON.stringify(counts)}, ${failing.length} not allowed (${Date.now() - started} ms)`);
  for (const f of failing) console.error(`  ${f.severity} ${f.issue} ${f.filename}:${f.location} ${f.description}\n    ${f.sample.slice(0, 200)}`);
  process.exitCode = failing.length > 0 ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  });
}
