// Model output as Markdown. Raw HTML in the output is shown as text (never parsed as markup), then
// DOMPurify cleans what marked produced. Text is split into top-level blocks and each block's HTML
// is cached, so while an answer streams only the last, growing block is rendered again.
import { Marked, type Tokens } from 'marked';

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    // Block and inline HTML alike: show the characters the model wrote.
    html(token: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(token.text);
    },
    code(token: Tokens.Code): string {
      const lang = (token.lang ?? '').match(/^[\w+#.-]{1,32}/)?.[0] ?? '';
      return `<div class="code-block"><div class="code-bar"><span>${escapeHtml(lang)}</span><button type="button" class="copy-code" data-copy-code>Copy code</button></div><pre><code>${escapeHtml(token.text)}</code></pre></div>`;
    },
    link(token: Tokens.Link): string {
      const text = this.parser.parseInline(token.tokens);
      // Only web links are followed; anything else (javascript:, file:) is shown as text.
      if (!/^https?:\/\//i.test(token.href)) return text;
      return `<a href="${escapeHtml(token.href)}" target="_blank" rel="noopener noreferrer">${text}</a>`;
    },
    image(token: Tokens.Image): string {
      // The model cannot show us images; a remote image would be a tracking request.
      return escapeHtml(`![${token.text}](${token.href})`);
    },
  },
});

export interface Block {
  raw: string;
  html: string;
}

/** Markdown blocks, rendered to HTML that still needs sanitizing. */
export function renderBlocks(text: string, cache: Map<string, string> = new Map()): Block[] {
  return render(text, cache).blocks;
}

function render(text: string, cache: Map<string, string>): { blocks: Block[]; ends: number[] } {
  const tokens = marked.lexer(text);
  const blocks: Block[] = [];
  /** Source offset where each block ends (space tokens included), to resume lexing there. */
  const ends: number[] = [];
  let offset = 0;
  for (const token of tokens) {
    offset += token.raw.length;
    if (token.type === 'space') {
      if (ends.length) ends[ends.length - 1] = offset;
      continue;
    }
    let html = cache.get(token.raw);
    if (html === undefined) {
      const list = Object.assign([token], { links: tokens.links });
      html = marked.parser(list);
      cache.set(token.raw, html);
    }
    blocks.push({ raw: token.raw, html });
    ends.push(offset);
  }
  return { blocks, ends };
}

/**
 * For text that only grows (a streaming answer): blocks before the last two are final, so each
 * update lexes only from there on. Keeps a long answer's per-token cost flat instead of growing
 * with its length. Falls back to a full render when the text changed in any other way.
 */
export class StreamingMarkdown {
  #text = '';
  #stable: Block[] = [];
  #stableEnd = 0;
  readonly #cache = new Map<string, string>();

  update(text: string): Block[] {
    if (!text.startsWith(this.#text) || this.#stableEnd > text.length) {
      this.#stable = [];
      this.#stableEnd = 0;
    }
    this.#text = text;
    const tail = render(text.slice(this.#stableEnd), this.#cache);
    const keep = Math.max(0, tail.blocks.length - 2);
    const blocks = [...this.#stable, ...tail.blocks];
    if (keep > 0) {
      this.#stable = [...this.#stable, ...tail.blocks.slice(0, keep)];
      this.#stableEnd += tail.ends[keep - 1]!;
    }
    // The cache only needs what can still be on screen.
    if (this.#cache.size > 500) this.#cache.clear();
    return blocks;
  }
}
