// Raw prompts (OpenAI-style /v1/completions): the caller writes the whole prompt, FireLLaVA
// format included. The single-image policy still holds: the last image of the turns is the one
// the model sees, placed at `<image>` (FireLLaVA's own marker, as Fireworks' API documents it).
import type { EngineTurn } from './engine';
import { MEDIA_MARKER, type FormattedPrompt } from './prompt-format';

export const RAW_IMAGE_MARKER = '<image>';

/**
 * Only the first `<image>` becomes the binding's media marker; a literal `<__media__>` typed by the
 * caller is broken up, so the binding never sees more markers than images (that leaves the
 * context stuck). Without `<image>`, the image goes before the text.
 */
export function formatRawPrompt(prompt: string, turns: readonly EngineTurn[]): FormattedPrompt {
  const images = turns.flatMap((t) => t.images);
  const used = images[images.length - 1] ?? null;
  let text = prompt.replaceAll(MEDIA_MARKER, `<\u200B${MEDIA_MARKER.slice(1)}`);
  if (used) {
    const at = text.indexOf(RAW_IMAGE_MARKER);
    text = at >= 0 ? text.slice(0, at) + MEDIA_MARKER + text.slice(at + RAW_IMAGE_MARKER.length) : `${MEDIA_MARKER}\n${text}`;
  }
  return {
    prompt: text,
    mediaPaths: used ? [used.path] : [],
    usedImageId: used?.id ?? null,
    ignoredImageIds: images.slice(0, -1).map((i) => i.id),
  };
}
