import { describe, expect, it } from 'vitest';
import { finishedAnnouncement } from '../../renderer/src/lib/announce';

describe('the announcement when an answer ends', () => {
  it('says the answer finished and reads its first words only', () => {
    expect(finishedAnnouncement({ status: 'complete', text: '  The cat sits\non a mat. ' })).toBe('Answer finished: The cat sits on a mat.');
    const long = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    expect(finishedAnnouncement({ status: 'complete', text: long })).toBe(`Answer finished: ${long.split(' ').slice(0, 12).join(' ')}…`);
  });

  it('names a stopped or empty answer and stays quiet while streaming', () => {
    expect(finishedAnnouncement({ status: 'stopped', text: 'Half' })).toBe('Answer stopped: Half');
    expect(finishedAnnouncement({ status: 'complete', text: '' })).toBe('Answer finished.');
    expect(finishedAnnouncement({ status: 'streaming', text: 'partial' })).toBe('');
  });
});
