import { describe, expect, it } from 'vitest';
import { renderBlocks, StreamingMarkdown } from '../../renderer/src/lib/markdown';

const html = (text: string): string => renderBlocks(text).map((b) => b.html).join('');

describe('markdown for model output', () => {
  it('renders markdown: headings, lists, emphasis, code with a copy button', () => {
    const out = html('# Title\n\n- **bold** item\n- second\n\n```js\nconst a = 1 < 2;\n```');
    expect(out).toContain('<h1>Title</h1>');
    expect(out).toContain('<strong>bold</strong>');
    expect(out).toContain('data-copy-code');
    expect(out).toContain('const a = 1 &#60; 2;');
  });

  it('shows raw HTML as text instead of markup', () => {
    const out = html('Hello <img src=x onerror="alert(1)"> and\n\n<script>alert(2)</script>\n\n<b>x</b>');
    expect(out).not.toMatch(/<img|<script|<b>/);
    expect(out).toContain('&#60;img src=x onerror=&#34;alert(1)&#34;&#62;');
    expect(out).toContain('&#60;script&#62;');
  });

  it('drops non-web links and never loads remote images', () => {
    expect(html('[click](javascript:alert(1))')).not.toContain('href');
    expect(html('[site](https://example.com)')).toContain('href="https://example.com"');
    expect(html('![x](https://tracker.example/p.png)')).not.toContain('<img');
  });

  it('splits into blocks and reuses the HTML of unchanged blocks while text grows', () => {
    const cache = new Map<string, string>();
    const first = renderBlocks('Para one.\n\nPara two is gro', cache);
    expect(first.map((b) => b.html)).toEqual(['<p>Para one.</p>\n', '<p>Para two is gro</p>\n']);
    const size = cache.size;
    const second = renderBlocks('Para one.\n\nPara two is growing', cache);
    expect(second[0]!.html).toBe(first[0]!.html);
    expect(cache.size).toBe(size + 1); // only the last block was rendered again
  });
});

describe('streaming markdown', () => {
  it('gives the same blocks as a full render at every step of a growing answer', () => {
    const answer =
      '# Mug\n\nA **blue** mug with a\nglossy glaze.\n\n- one\n- two\n  continued\n- three\n\n```js\nconst a = 1;\n\nconst b = 2;\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nTitle\n---\n\n> quote\n> more\n\nEnd <b>raw</b>.';
    const stream = new StreamingMarkdown();
    for (let i = 1; i <= answer.length; i++) {
      const text = answer.slice(0, i);
      expect(stream.update(text).map((b) => b.html), `at ${i}: ${JSON.stringify(text.slice(-20))}`).toEqual(renderBlocks(text).map((b) => b.html));
    }
  });

  it('starts over when the text is replaced rather than extended', () => {
    const stream = new StreamingMarkdown();
    stream.update('First paragraph.\n\nSecond.\n\nThird.\n\nFourth.');
    expect(stream.update('Other text.').map((b) => b.html)).toEqual(['<p>Other text.</p>\n']);
  });
});
