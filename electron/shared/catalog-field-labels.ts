// Field names as people read them: CSV headers and the review grid's columns. Kept apart from the
// contract so the renderer can import them without bundling zod.
import type { CatalogField } from './contracts/catalog';

export const FIELD_LABEL: Record<CatalogField, string> = {
  title: 'Title',
  bullets: 'Bullets',
  shortDescription: 'Short description',
  longDescription: 'Description',
  tags: 'Tags',
  altText: 'Alt text',
  seoTitle: 'SEO title',
  seoDescription: 'SEO description',
};
