// FireLLaVA's conversation format, built explicitly: the binding's fallback is ChatML, which is
// wrong for LLaVA-1.5. One image per conversation reaches the model (how FireLLaVA was trained).
import type { EngineTurn } from './engine';

/** Marker the binding replaces with the image embedding. */
export const MEDIA_MARKER = '<__media__>';
/** Said in place of images the model does not see, so the text still makes sense. */
export const OMITTED_IMAGE_TEXT = '[earlier image, not shown]';

export interface FormattedPrompt {
  prompt: string;
  /** Zero or one path: the single image the model sees. */
  mediaPaths: string[];
  usedImageId: string | null;
  ignoredImageIds: string[];
}

// Text that would otherwise be parsed as special tokens or as the image marker.
const SPECIAL_TEXT = /<\/?s>|<__media__>|<image>/g;

/** Breaks special-token text with a zero-width space so users cannot end a turn or inject an image. */
export function neutralizeSpecialText(text: string): string {
  return text.replace(SPECIAL_TEXT, (m) => `${m[0]}\u200B${m.slice(1)}`);
}

/**
 * `{system}\n\nUSER: <image>\n{q1}\nASSISTANT: {a1}</s>\nUSER: {q2}\nASSISTANT:`
 * After a last user turn the answer is generated after the final `ASSISTANT:`; after a last
 * assistant turn the prompt stops inside it (no `</s>`), so the model continues that text. A
 * leading assistant turn (a greeting) opens with its own `ASSISTANT:`.
 */
export function formatFireLlavaPrompt(system: string, turns: readonly EngineTurn[]): FormattedPrompt {
  // The newest image is chosen by position and compared by id (its content hash): an image sent
  // twice may be the same object, and two markers for one image leave the binding's context stuck.
  let used: { id: string; path: string } | null = null;
  let usedAt: { turn: number; index: number } | null = null;
  const ignored: string[] = [];
  for (let i = turns.length - 1; i >= 0; i--) {
    const images = turns[i]!.images;
    for (let j = images.length - 1; j >= 0; j--) {
      if (used === null) {
        used = images[j]!;
        usedAt = { turn: i, index: j };
      } else if (images[j]!.id !== used.id && !ignored.includes(images[j]!.id)) ignored.push(images[j]!.id);
    }
  }
  ignored.reverse();

  const parts: string[] = [];
  const sys = system.trim();
  if (sys) parts.push(`${neutralizeSpecialText(sys)}\n\n`);
  turns.forEach((turn, index) => {
    const isUsed = (j: number): boolean => usedAt !== null && usedAt.turn === index && usedAt.index === j;
    const text = neutralizeSpecialText(turn.text.trim());
    if (turn.role === 'user') {
      if (index > 0) parts.push('\n');
      const lines: string[] = [];
      turn.images.forEach((_, j) => lines.push(isUsed(j) ? MEDIA_MARKER : OMITTED_IMAGE_TEXT));
      lines.push(text);
      parts.push(`USER: ${lines.join('\n')}\nASSISTANT:`);
    } else {
      if (index === 0 || turns[index - 1]!.role !== 'user') parts.push(index === 0 ? 'ASSISTANT:' : '\nASSISTANT:');
      const last = index === turns.length - 1;
      parts.push(last ? (text ? ` ${text}` : '') : ` ${text}</s>`);
    }
  });
  return {
    prompt: parts.join(''),
    mediaPaths: used ? [used.path] : [],
    usedImageId: used?.id ?? null,
    ignoredImageIds: ignored,
  };
}
