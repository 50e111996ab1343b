// A job's rows as files a shop imports: Shopify and WooCommerce product CSVs (finished rows
// only), a generic CSV, JSON Lines and Markdown (every row, errors included). Image columns carry
// the original file name: the user uploads the photos to the shop, which matches them by name.
import type { CatalogField, CatalogFormat, CatalogItemView, CatalogTemplate } from '../shared/contracts/catalog';
import { FIELD_LABEL } from './catalog-templates';
import { noteValue } from './catalog-notes';
import { writeCsv } from './csv';

export interface ExportOptions {
  format: CatalogFormat;
  /** UTF-8 BOM in front of CSVs, for Excel. */
  bom?: boolean;
  approvedOnly?: boolean;
}

export interface ExportedFile {
  fileName: string;
  mimeType: string;
  text: string;
  /** Rows written (header not counted). */
  rows: number;
}

export const SHOPIFY_COLUMNS = [
  'Handle',
  'Title',
  'Body (HTML)',
  'Vendor',
  'Type',
  'Tags',
  'Published',
  'Variant SKU',
  'Variant Price',
  'Image Src',
  'Image Position',
  'Image Alt Text',
  'SEO Title',
  'SEO Description',
] as const;

export const WOOCOMMERCE_COLUMNS = [
  'Type',
  'SKU',
  'Name',
  'Published',
  'Visibility in catalog',
  'Short description',
  'Description',
  'Regular price',
  'Categories',
  'Tags',
  'Images',
] as const;

/** Every character of model or user text is text, never markup: the only tags are the ones we write. */
export const escapeHtml = (s: string): string =>
  /[&<>"']/.test(s) ? s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;') : s;

/** Paragraphs (blank lines), line breaks and the bullets as a list; nothing else survives. */
export function bodyHtml(values: CatalogItemView['values']): string {
  let html = '';
  let para: string[] = [];
  const flush = (): void => {
    if (para.length) html += `<p>${para.join('<br>')}</p>`;
    para = [];
  };
  for (const line of (values.longDescription ?? values.shortDescription ?? '').split('\n')) {
    const l = line.trim();
    if (l) para.push(escapeHtml(l));
    else flush();
  }
  flush();
  const bullets = (values.bullets ?? '').split('\n').map((b) => b.trim()).filter(Boolean);
  if (bullets.length) html += `<ul>${bullets.map((b) => `<li>${escapeHtml(b)}</li>`).join('')}</ul>`;
  return html;
}

/** Shopify handles are lower-case ASCII words joined by '-'; non-Latin titles fall back to the file name. */
function slug(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .replace(/-+$/, '');
}

function uniqueHandles(items: readonly CatalogItemView[]): string[] {
  const used = new Map<string, number>();
  return items.map((it) => {
    const base = slug(it.values.title ?? '') || slug(it.fileName.replace(/\.[^.]+$/, '')) || `item-${it.id}`;
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}

const vendorOf = (it: CatalogItemView): string => noteValue(it.notes, 'vendor', 'brand', 'manufacturer');
const typeOf = (it: CatalogItemView): string => noteValue(it.notes, 'type', 'product type', 'category', 'categories');
const skuOf = (it: CatalogItemView): string => noteValue(it.notes, 'sku', 'variant sku', 'article', 'id');
const priceOf = (it: CatalogItemView): string => noteValue(it.notes, 'price', 'regular price', 'variant price');

function shopifyRows(items: readonly CatalogItemView[]): string[][] {
  const handles = uniqueHandles(items);
  return items.map((it, i) => {
    const v = it.values;
    return [
      handles[i]!,
      v.title ?? '',
      bodyHtml(v),
      vendorOf(it),
      typeOf(it),
      v.tags ?? '',
      'TRUE',
      skuOf(it),
      priceOf(it),
      it.fileName,
      '1',
      v.altText ?? '',
      v.seoTitle ?? '',
      v.seoDescription ?? '',
    ];
  });
}

function wooRows(items: readonly CatalogItemView[]): string[][] {
  return items.map((it) => {
    const v = it.values;
    // The summary, else the bullets, go short; the rest goes in the description.
    const short = v.shortDescription ? bodyHtml({ shortDescription: v.shortDescription }) : v.bullets ? bodyHtml({ bullets: v.bullets }) : '';
    const long = bodyHtml({ ...(v.longDescription ? { longDescription: v.longDescription } : {}), ...(v.shortDescription && v.bullets ? { bullets: v.bullets } : {}) });
    return ['simple', skuOf(it), v.title ?? '', '1', 'visible', short, long, priceOf(it), typeOf(it), v.tags ?? '', it.fileName];
  });
}

function noteKeys(items: readonly CatalogItemView[]): string[] {
  const keys = new Set<string>();
  for (const it of items) for (const k of Object.keys(it.notes)) keys.add(k);
  return [...keys];
}

function genericCsv(template: CatalogTemplate, items: readonly CatalogItemView[]): { header: string[]; rows: string[][] } {
  const notes = noteKeys(items);
  const header = ['File', 'Status', 'Error', ...template.fields.map((f) => FIELD_LABEL[f]), ...notes, 'Flags', 'Approved'];
  const rows = items.map((it) => [
    it.fileName,
    it.status,
    it.error ?? '',
    ...template.fields.map((f) => it.values[f] ?? ''),
    ...notes.map((k) => it.notes[k] ?? ''),
    it.flags.join('; '),
    it.approved ? 'yes' : 'no',
  ]);
  return { header, rows };
}

/** Lists as arrays in JSON: bullets one per line, tags comma-separated when stored. */
function fieldJson(f: CatalogField, value: string | undefined): string | string[] | null {
  if (value === undefined) return null;
  if (f === 'bullets') return value.split('\n').filter(Boolean);
  if (f === 'tags') return value.split(',').map((s) => s.trim()).filter(Boolean);
  return value;
}

function jsonLines(template: CatalogTemplate, items: readonly CatalogItemView[]): string {
  return items
    .map((it) =>
      JSON.stringify({
        file: it.fileName,
        status: it.status,
        error: it.error,
        fields: Object.fromEntries(template.fields.map((f) => [f, fieldJson(f, it.values[f])])),
        notes: it.notes,
        flags: it.flags,
        approved: it.approved,
      }),
    )
    .map((l) => `${l}\n`)
    .join('');
}

const mdLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ');

function markdown(name: string, template: CatalogTemplate, items: readonly CatalogItemView[]): string {
  const out = [`# ${mdLine(name || 'Catalog')}`, ''];
  for (const it of items) {
    out.push(`## ${mdLine(it.values.title || it.fileName)}`, '', `File: \`${it.fileName.replace(/`/g, "'")}\``, '');
    if (it.status !== 'done') {
      out.push(`**Error:** ${mdLine(it.error ?? it.status)}`, '');
      continue;
    }
    for (const f of template.fields) {
      if (f === 'title') continue;
      const v = it.values[f] ?? '';
      if (f === 'bullets') out.push(`**${FIELD_LABEL[f]}:**`, '', ...v.split('\n').filter(Boolean).map((b) => `- ${mdLine(b)}`), '');
      else out.push(`**${FIELD_LABEL[f]}:** ${f === 'longDescription' ? v : mdLine(v)}`, '');
    }
    if (it.flags.length) out.push(`_Check: ${mdLine(it.flags.join('; '))}_`, '');
  }
  return out.join('\n');
}

export function exportItems(job: { name: string; template: CatalogTemplate }, all: readonly CatalogItemView[], options: ExportOptions): ExportedFile {
  const chosen = options.approvedOnly ? all.filter((it) => it.approved) : all;
  // A shop import gets products only; a failed photo would be an empty product.
  const done = chosen.filter((it) => it.status === 'done');
  const base = slug(job.name) || 'catalog';
  const csv = (header: readonly string[], rows: string[][], suffix: string): ExportedFile => ({
    fileName: `${base}-${suffix}.csv`,
    mimeType: 'text/csv; charset=utf-8',
    text: writeCsv(header, rows, { bom: options.bom ?? false }),
    rows: rows.length,
  });
  switch (options.format) {
    case 'shopify':
      return csv(SHOPIFY_COLUMNS, shopifyRows(done), 'shopify');
    case 'woocommerce':
      return csv(WOOCOMMERCE_COLUMNS, wooRows(done), 'woocommerce');
    case 'csv': {
      const { header, rows } = genericCsv(job.template, chosen);
      return csv(header, rows, 'catalog');
    }
    case 'jsonl':
      return { fileName: `${base}.jsonl`, mimeType: 'application/x-ndjson', text: jsonLines(job.template, chosen), rows: chosen.length };
    case 'md':
      return { fileName: `${base}.md`, mimeType: 'text/markdown; charset=utf-8', text: markdown(job.name, job.template, chosen), rows: chosen.length };
  }
}
