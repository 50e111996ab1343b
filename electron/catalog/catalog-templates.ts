// Templates: which fields a job writes, in which tone and language, within which lengths. From a
// template come the prompt for one item and the JSON schema that constrains its generation.
import type { EngineTurn, ResponseFormat } from '../engine/engine';
import type { GenerationParams } from '../shared/contract';
import { CATALOG_FIELDS, FIELD_LIMIT_MAX, type CatalogField, type CatalogTemplate, type CatalogValues } from '../shared/contracts/catalog';
import { AppErrorException } from '../shared/errors';

/** Default length per field (code points); bullets and tags: per entry. */
export const DEFAULT_LIMITS: Record<CatalogField, number> = {
  title: 80,
  bullets: 150,
  shortDescription: 300,
  longDescription: 1200,
  tags: 30,
  altText: 125,
  seoTitle: 60,
  seoDescription: 160,
};

/** How many entries the list fields hold. */
export const LIST_COUNT: Partial<Record<CatalogField, { min: number; max: number }>> = {
  bullets: { min: 3, max: 5 },
  tags: { min: 3, max: 10 },
};

export { FIELD_LABEL } from '../shared/catalog-field-labels';

const WHAT: Record<CatalogField, string> = {
  title: 'product title',
  bullets: 'selling points',
  shortDescription: 'one-paragraph summary',
  longDescription: 'full description',
  tags: 'search tags',
  altText: 'image alt text describing what is visible',
  seoTitle: 'search-engine title',
  seoDescription: 'search-engine meta description',
};

const template = (id: string, name: string, fields: CatalogField[], limits: Partial<Record<CatalogField, number>> = {}): CatalogTemplate => ({
  id,
  name,
  fields,
  tone: 'clear, friendly, factual',
  language: 'English',
  limits,
  instructions: '',
});

export const BUILTIN_TEMPLATES: readonly CatalogTemplate[] = [
  template('shopify', 'Shopify product', ['title', 'longDescription', 'tags', 'altText', 'seoTitle', 'seoDescription']),
  template('woocommerce', 'WooCommerce product', ['title', 'shortDescription', 'longDescription', 'tags', 'altText']),
  template('amazon-bullets', 'Amazon-style bullets', ['title', 'bullets', 'longDescription'], { title: 200, bullets: 250 }),
  template('alt-text', 'Alt text only', ['altText']),
  template('custom', 'Custom', ['title', 'shortDescription', 'altText']),
];

export function findTemplate(idOrTemplate: string | CatalogTemplate): CatalogTemplate {
  if (typeof idOrTemplate !== 'string') return normalizeTemplate(idOrTemplate);
  const found = BUILTIN_TEMPLATES.find((t) => t.id === idOrTemplate);
  if (!found) {
    throw new AppErrorException({ code: 'INVALID_INPUT', message: `Unknown template "${idOrTemplate}": choose one of ${BUILTIN_TEMPLATES.map((t) => t.id).join(', ')}` });
  }
  return structuredClone(found);
}

/** Fields in the canonical order, once each, limits within the hard caps. */
export function normalizeTemplate(t: CatalogTemplate): CatalogTemplate {
  const fields = CATALOG_FIELDS.filter((f) => t.fields.includes(f));
  if (fields.length === 0) throw new AppErrorException({ code: 'INVALID_INPUT', message: 'A template needs at least one field' });
  const limits: Partial<Record<CatalogField, number>> = {};
  for (const f of fields) limits[f] = Math.max(1, Math.min(FIELD_LIMIT_MAX[f], Math.floor(t.limits[f] ?? DEFAULT_LIMITS[f])));
  return { ...t, fields, limits };
}

export const limitOf = (t: CatalogTemplate, f: CatalogField): number => t.limits[f] ?? DEFAULT_LIMITS[f];

/** Code points, not UTF-16 units: "é" and "😀" count as one, like the shops count them. */
export const charCount = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** The JSON schema for one item: every field required, each with its maxLength. */
export function schemaFor(t: CatalogTemplate, only?: CatalogField): Record<string, unknown> {
  const fields = only ? [only] : t.fields;
  const properties: Record<string, unknown> = {};
  for (const f of fields) {
    const str = { type: 'string', minLength: 1, maxLength: limitOf(t, f) };
    const list = LIST_COUNT[f];
    properties[f] = list ? { type: 'array', items: str, minItems: list.min, maxItems: list.max } : str;
  }
  return { type: 'object', properties, required: fields, additionalProperties: false };
}

export function responseFormatFor(t: CatalogTemplate, only?: CatalogField): ResponseFormat {
  return { type: 'json_schema', schema: schemaFor(t, only) };
}

/** Enough tokens to finish the longest allowed answer (a token is at least one character). */
export function maxTokensFor(t: CatalogTemplate, only?: CatalogField): number {
  let chars = 16;
  for (const f of only ? [only] : t.fields) chars += (limitOf(t, f) + 8) * (LIST_COUNT[f]?.max ?? 1) + f.length + 6;
  return Math.min(8192, chars);
}

export function notesLine(notes: Record<string, string>): string {
  return Object.entries(notes)
    .filter(([, v]) => v.trim() !== '')
    .map(([k, v]) => `${k}: ${v.trim().replace(/\s+/g, ' ')}`)
    .join('; ');
}

/** The one user turn for one item: its own image, its own notes, never another item's. */
export function promptFor(t: CatalogTemplate, notes: Record<string, string>, only?: CatalogField): string {
  const fields = only ? [only] : t.fields;
  const asked = fields.map((f) => {
    const list = LIST_COUNT[f];
    return list ? `${f} (${list.min}-${list.max} ${WHAT[f]}, each ≤${limitOf(t, f)} chars)` : `${f} (${WHAT[f]}, ≤${limitOf(t, f)} chars)`;
  });
  const lines = [`Write ${t.language || 'English'} copy for an online shop about the product in this photo.`];
  if (t.tone.trim()) lines.push(`Tone: ${t.tone.trim()}.`);
  const n = notesLine(notes);
  if (n) lines.push(`Facts: ${n}.`);
  if (t.instructions.trim()) lines.push(t.instructions.trim());
  lines.push(`Answer as JSON with ${asked.join(', ')}.`);
  return lines.join('\n');
}

export function turnFor(t: CatalogTemplate, notes: Record<string, string>, image: { id: string; path: string }, only?: CatalogField): EngineTurn {
  return { role: 'user', text: promptFor(t, notes, only), images: [image] };
}

export const CATALOG_PARAMS: GenerationParams = { maxTokens: 1024, temperature: 0.3, topK: 40, topP: 0.95, seed: -1, stop: [] };

export interface CheckedOutput {
  values: CatalogValues;
  /** Fields over their limit (or missing): "title: 93 of 80 characters". */
  violations: string[];
}

/** Parses a constrained answer and checks it by code points; null when it is not the JSON asked for. */
export function checkOutput(t: CatalogTemplate, text: string, only?: CatalogField): CheckedOutput | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const obj = parsed as Record<string, unknown>;
  const values: CatalogValues = {};
  const violations: string[] = [];
  for (const f of only ? [only] : t.fields) {
    const raw = obj[f];
    const limit = limitOf(t, f);
    const list = LIST_COUNT[f];
    if (list) {
      if (!Array.isArray(raw) || raw.some((x) => typeof x !== 'string')) return null;
      // A comma inside a tag would split it in the stored, comma-joined list.
      const entries = (raw as string[]).map((s) => (f === 'tags' ? clean(s).replace(/,/g, ' ').trim() : clean(s))).filter((s) => s !== '');
      const over = entries.filter((s) => charCount(s) > limit);
      if (over.length) violations.push(`${f}: an entry has ${Math.max(...over.map(charCount))} of ${limit} characters`);
      if (entries.length === 0) violations.push(`${f}: empty`);
      values[f] = entries.join(f === 'tags' ? ', ' : '\n');
    } else {
      if (typeof raw !== 'string') return null;
      const s = clean(raw);
      if (charCount(s) > limit) violations.push(`${f}: ${charCount(s)} of ${limit} characters`);
      if (s === '') violations.push(`${f}: empty`);
      values[f] = s;
    }
  }
  return { values, violations };
}

// Control characters break spreadsheets; U+FFFD is a byte the model left half-written (never copy).
const clean = (s: string): string =>
  s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/g, '')
    .replace(/\r\n?/g, '\n')
    .trim();
