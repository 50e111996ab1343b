import { describe, expect, it } from 'vitest';
import { checkOutput, findTemplate, schemaFor } from '../../electron/catalog/catalog-templates';
import { parseCsv, writeCsv } from '../../electron/catalog/csv';

describe('catalog templates and CSV', () => {
  it('schema carries maxLength per field; lengths are checked by code points', () => {
    const t = findTemplate('alt-text');
    expect(schemaFor(t)).toMatchObject({ required: ['altText'], properties: { altText: { maxLength: 125 } } });
    expect(checkOutput(t, JSON.stringify({ altText: '😀'.repeat(125) }))!.violations).toEqual([]);
    expect(checkOutput(t, JSON.stringify({ altText: '😀'.repeat(126) }))!.violations).toEqual(['altText: 126 of 125 characters']);
    expect(checkOutput(t, '{"altText": "cut')).toBeNull();
  });

  it('commas, quotes, newlines and non-Latin text survive a CSV round trip', () => {
    const rows = [['a, b', 'say "hi"', 'line1\nline2\r\nline3', 'Чай 茶 ☕']];
    const text = writeCsv(['x', 'y', 'z', 'w'], rows, { bom: true });
    expect(text.startsWith('\uFEFF')).toBe(true);
    expect(parseCsv(text)).toEqual([['x', 'y', 'z', 'w'], ['a, b', 'say "hi"', 'line1\nline2\r\nline3', 'Чай 茶 ☕']]);
  });
});
