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
  const tokens = marked.lexer(text);
  const out: Block[] = [];
  for (const token of tokens) {
    if (token.type === 'space') continue;
    let html = cache.get(token.raw);
    if (html === undefined) {
      const list = Object.assign([token], { links: tokens.links });
      html = marked.parser(list);
      cache.set(token.raw, html);
    }
    out.push({ raw: token.raw, html });
  }
  return out;
}
