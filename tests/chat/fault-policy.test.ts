// Which stray errors end the process (electron/backend/fault-policy.ts). The end-to-end check on a
// real `firellava serve` is in serve-save-failures.test.ts; this pins the table and the lines logged.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { faultVerdict, installFaultPolicy } from '../../electron/backend/fault-policy';

const withCode = (code: string): Error => Object.assign(new Error(code), { code });

describe('process fault policy', () => {
  it('runs on after storage and per-request errors and every rejection; exits on any other throw', () => {
    for (const code of ['SQLITE_FULL', 'SQLITE_BUSY', 'SQLITE_IOERR_WRITE', 'ENOSPC', 'EROFS', 'EPIPE', 'ECONNRESET']) {
      expect(faultVerdict('uncaughtException', withCode(code))).toBe('keep-running');
    }
    expect(faultVerdict('unhandledRejection', new TypeError('x is undefined'))).toBe('keep-running');
    expect(faultVerdict('uncaughtException', new TypeError('x is undefined'))).toBe('exit');
    expect(faultVerdict('uncaughtException', 'a string')).toBe('exit');
  });

  it('logs one line for each, calls exit only for a fatal one, and can be removed', () => {
    const emitter = new EventEmitter();
    const target = emitter as unknown as NodeJS.Process;
    const lines: string[] = [];
    const exits: number[] = [];
    const remove = installFaultPolicy({ name: 'test', target, log: (l) => lines.push(l), exit: (code) => exits.push(code) });
    emitter.emit('uncaughtException', withCode('SQLITE_FULL'));
    emitter.emit('unhandledRejection', new Error('lost task'));
    expect(exits).toEqual([]);
    emitter.emit('uncaughtException', new RangeError('bug'));
    expect(exits).toEqual([70]);
    expect(lines.map((l) => l.split(': ').slice(0, 2).join(': '))).toEqual([
      'test: uncaught exception, kept running (STORAGE_FULL',
      'test: unhandled promise rejection, kept running',
      'test: fatal uncaught exception, exiting with code 70 (answers still streaming read "interrupted" on the next start)',
    ]);
    remove();
    expect(emitter.listenerCount('uncaughtException')).toBe(0);
  });
});
