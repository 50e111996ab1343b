// The electronegativity gate: the real scan of the built app passes, and the judging of its CSV
// report fails on any HIGH/MEDIUM finding the checked-in allowlist does not justify.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SCRIPT = path.resolve('scripts/check-electronegativity.mjs');
const HEADER = 'issue, severity, confidence, filename, location, sample, description, url';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'firellava-en-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function judge(rows: string[]): Promise<{ code: number; out: string }> {
  const file = path.join(tmp, `report-${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(file, [HEADER, ...rows].join('\n'));
  try {
    const { stdout, stderr } = await run(process.execPath, [SCRIPT, '--csv', file]);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('electronegativity gate', () => {
  it('fails on a HIGH finding that is not allowlisted and names it', async () => {
    const r = await judge([
      'NODE_INTEGRATION_JS_CHECK,"HIGH","CERTAIN","main/main.js","10:2","new BrowserWindow({webPreferences: {nodeIntegration: true}})","Disable nodeIntegration for untrusted origins",https://github.com/doyensec/electronegativity/wiki/NODE_INTEGRATION_JS_CHECK',
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('HIGH NODE_INTEGRATION_JS_CHECK main/main.js:10:2');
    expect(r.out).toContain('1 not allowed');
  });

  it('fails on an allowlisted check found somewhere the allowlist does not cover', async () => {
    const r = await judge([
      'OPEN_EXTERNAL_JS_CHECK,"MEDIUM","TENTATIVE","renderer/assets/x.js","1:1","shell.openExternal(location.hash, {a: ""b""})","Review the use of openExternal",https://x',
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('MEDIUM OPEN_EXTERNAL_JS_CHECK renderer/assets/x.js');
  });

  it('passes allowlisted findings and LOW or INFORMATIONAL ones', async () => {
    const r = await judge([
      'CSP_GLOBAL_CHECK,"MEDIUM","CERTAIN","N/A","0:0",N/A,"No CSP has been detected in the target application",https://x',
      'OPEN_EXTERNAL_JS_CHECK,"MEDIUM","TENTATIVE","main/main.js","5:3","if (decision.openExternally) deps.openExternal(decision.openExternally);","Review the use of openExternal",https://x',
      'AUXCLICK_JS_CHECK,"LOW","TENTATIVE","main/main.js","1:1","x","Review",https://x',
    ]);
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toContain('3 findings {"MEDIUM":2,"LOW":1}, 0 not allowed');
  });

  it('scans the built main, preload and renderer with no unjustified finding', { timeout: 120_000 }, async () => {
    const { stdout } = await run(process.execPath, [SCRIPT], { timeout: 110_000 });
    expect(stdout).toMatch(/electronegativity: \d+ findings .*, 0 not allowed/);
  });
});
