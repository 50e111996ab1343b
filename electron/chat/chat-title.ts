// Titles a chat the user did not name: a few words taken from its first answer (deterministic, no
// extra model call), and the file names exports get from a title.

/** Longest generated title, in characters (the sidebar shows about this much). */
export const TITLE_MAX_CHARS = 48;
/** A clause boundary earlier than this would leave too little to tell chats apart. */
const MIN_CLAUSE_CHARS = 12;

/** Openings that say nothing about this picture ("The image shows …"): dropped from the title. */
const FILLER = [
  /^(sure|certainly|of course|okay|ok|yes|absolutely)\b[!,.:]*\s*/i,
  /^(here is|here's|here are)\s+(a|an|the|some)?\s*/i,
  /^(in\s+)?(the|this)\s+(image|picture|photo|photograph|screenshot|scene)\s*(shows|depicts|features|displays|contains|presents|is of|is|,)?\s*/i,
  /^(it|this)\s+(is|shows|depicts)\s+/i,
];

/** The answer as plain text: Markdown syntax, HTML, code fences and invalid bytes removed. */
function plain(markdown: string): string {
  return (
    markdown
      // Random-weight models emit broken UTF-8, which arrives as U+FFFD.
      .replace(/\uFFFD/g, '')
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ' ')
      .replace(/```[^\n]*\n[\s\S]*?(```|$)/g, '\n')
      .replace(/<[^>\n]*>/g, ' ')
      .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/^\s{0,3}(#{1,6}|>|[-*+]|\d+[.)])\s+/gm, '')
      .replace(/(\*\*|__|\*|_|~~|`)/g, '')
  );
}

/** Cuts at the last word boundary within max characters (whole code points), with an ellipsis. */
function cutWords(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  const head = chars.slice(0, max).join('');
  const space = head.search(/\s\S*$/);
  return `${(space >= MIN_CLAUSE_CHARS ? head.slice(0, space) : head).replace(/[\s,;:–—-]+$/, '')}…`;
}

/**
 * A short title from an answer: its first sentence (or the first clause of a long one), without
 * Markdown or a filler opening, at most TITLE_MAX_CHARS. '' when nothing readable is left.
 */
export function titleFromAnswer(answer: string): string {
  const lines = plain(answer)
    .split('\n')
    .map((l) => l.replace(/\s+/g, ' ').trim())
    .filter((l) => /[\p{L}\p{N}]/u.test(l));
  // "Here is a title:" introduces the answer; the line after it is the answer.
  let text = (lines.length > 1 && lines[0]!.endsWith(':') ? lines[1] : lines[0]) ?? '';
  for (const filler of FILLER) text = text.replace(filler, '');
  // The first sentence: up to ., ! or ? followed by a space or the end ("3.5 mm" stays whole).
  const end = text.search(/[.!?。！？](\s|$)/);
  if (end > 0) text = text.slice(0, end + (/[?!？！]/.test(text[end]!) ? 1 : 0));
  if ([...text].length > TITLE_MAX_CHARS) {
    // Else its first clause, when that is long enough to tell chats apart; else whole words.
    const head = [...text].slice(0, TITLE_MAX_CHARS).join('');
    const clause = [...head.matchAll(/\s*[,;:–—(]/g)].find((m) => m.index >= MIN_CLAUSE_CHARS)?.index ?? -1;
    text = clause >= 0 ? text.slice(0, clause) : cutWords(text, TITLE_MAX_CHARS);
  }
  text = text.replace(/^[\s"'“”‘’([{,;:.–—-]+/, '').replace(/[\s"'“”‘’,;:.–—-]+$/, '');
  if (!/[\p{L}\p{N}]/u.test(text)) return '';
  return text.charAt(0).toLocaleUpperCase() + text.slice(1);
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)$/i;

/** A file name from a title: letters, digits, spaces as dashes; never empty, hidden or reserved. */
export function safeFileName(title: string, fallback = 'conversation'): string {
  const words = title
    .replace(/[^\p{L}\p{M}\p{N} _-]+/gu, ' ')
    .trim()
    .replace(/\s+/g, '-');
  const name = [...words].slice(0, 60).join('').replace(/^[-_]+|[-_]+$/g, '');
  if (!name) return fallback;
  return WINDOWS_RESERVED.test(name) ? `${name}-${fallback}` : name;
}
