// Names the user reads for fields (the CSV headers' own) and formats. Typed as Records so a format
// added to the contract fails the build here instead of showing a raw id.
import { FIELD_LABEL } from '../../../electron/shared/catalog-field-labels';
import type { CatalogField, CatalogFormat } from '../../../electron/shared/contracts/catalog';

export const FIELD_LABELS = FIELD_LABEL;

export const FORMAT_LABELS: Record<CatalogFormat, string> = {
  shopify: 'Shopify CSV',
  woocommerce: 'WooCommerce CSV',
  csv: 'CSV (every row)',
  jsonl: 'JSON Lines',
  md: 'Markdown',
};

export const ALL_FIELDS = Object.keys(FIELD_LABELS) as CatalogField[];
export const ALL_FORMATS = Object.keys(FORMAT_LABELS) as CatalogFormat[];

export function formatEta(seconds: number | null): string {
  if (seconds === null) return '';
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}
