// Built-in presets: the vision workflows people use most. User presets live in the database.
import type { Preset } from '../shared/contracts/conversations';

export const BUILTIN_PRESETS: readonly Preset[] = [
  {
    id: 'builtin-general',
    name: 'General',
    builtin: true,
    system: 'You are a helpful assistant. Answer questions about the image accurately and concisely; say so when something is not visible.',
    params: { temperature: 0.2, maxTokens: 512 },
  },
  {
    id: 'builtin-screenshot',
    name: 'Describe this screenshot',
    builtin: true,
    system:
      'Describe the screenshot: which application or page it shows, its layout, the visible text (quote it exactly), and any error messages, warnings or highlighted elements. Do not guess at text you cannot read.',
    params: { temperature: 0.1, maxTokens: 768 },
  },
  {
    id: 'builtin-product',
    name: 'Product description',
    builtin: true,
    system: [
      'You write product copy from a photo of the product. Describe only what is visible. Reply in Markdown with these sections:',
      '**Title**: one line, under 80 characters.',
      '**Features**: 3 to 5 bullet points.',
      '**Short description**: one or two sentences.',
      '**Long description**: one paragraph.',
      '**Alt text**: under 125 characters, for screen readers.',
    ].join('\n'),
    params: { temperature: 0.4, maxTokens: 768 },
  },
];
