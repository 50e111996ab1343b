import { describe, expect, it } from 'vitest';
import { DAMAGED_IMAGE_TEXT, imageFromClipboard, imagesFromClipboard, imagesFromDrop, plainImageError } from '../../renderer/src/lib/images';

const file = (name: string, type: string): File => new File([new Uint8Array([1])], name, { type });
const transfer = (items: { kind: string; type: string; file: File | null }[], files: File[]): DataTransfer =>
  ({ items: items.map((i) => ({ kind: i.kind, type: i.type, getAsFile: () => i.file })), files }) as unknown as DataTransfer;

describe('renderer image helpers', () => {
  it('find a pasted image in items first, then in files', () => {
    const shot = file('shot.png', 'image/png');
    const copied = file('copied.jpg', 'image/jpeg');
    expect(imageFromClipboard(transfer([{ kind: 'string', type: 'text/plain', file: null }, { kind: 'file', type: 'image/png', file: shot }], []))).toBe(shot);
    expect(imageFromClipboard(transfer([], [file('a.txt', 'text/plain'), copied]))).toBe(copied);
    expect(imageFromClipboard(transfer([{ kind: 'string', type: 'text/plain', file: null }], []))).toBeNull();
    expect(imageFromClipboard(null)).toBeNull();
  });

  it('collect every pasted image, from items or else from files', () => {
    const a = file('a.png', 'image/png');
    const b = file('b.jpg', 'image/jpeg');
    expect(imagesFromClipboard(transfer([{ kind: 'file', type: 'image/png', file: a }, { kind: 'file', type: 'image/jpeg', file: b }], [a, b]))).toEqual([a, b]);
    expect(imagesFromClipboard(transfer([], [file('t.txt', 'text/plain'), b]))).toEqual([b]);
    expect(imagesFromClipboard(transfer([{ kind: 'string', type: 'text/html', file: null }], []))).toEqual([]);
  });

  it('take every dropped image, untyped ones too (the backend sniffs them), never text', () => {
    const untyped = file('photo.heic', '');
    const png = file('x.png', 'image/png');
    expect(imagesFromDrop(transfer([], [untyped, file('notes.txt', 'text/plain'), png]))).toEqual([untyped, png]);
    expect(imagesFromDrop(null)).toEqual([]);
  });
});

describe('image errors in plain words', () => {
  it('replaces decoder wording with a plain sentence and keeps it as detail', () => {
    const r = plainImageError({ code: 'IMAGE_INVALID', message: 'The image could not be decoded (PNG data ends inside the IDAT chunk).' });
    expect(r.message).toBe(DAMAGED_IMAGE_TEXT);
    expect(r.detail).toContain('IDAT');
    const engine = plainImageError({ code: 'IMAGE_INVALID', message: 'The engine could not read this image', detail: 'stbi: bad huffman code' });
    expect(engine.message).toBe(DAMAGED_IMAGE_TEXT);
    expect(engine.detail).toBe('The engine could not read this image: stbi: bad huffman code');
  });

  it('leaves plain and unrelated errors alone', () => {
    const bmp = { code: 'IMAGE_INVALID', message: 'This BMP uses 16-bit colour, which is not supported; save the image as PNG and attach it again.' };
    expect(plainImageError(bmp)).toEqual({ message: bmp.message, detail: null });
    expect(plainImageError({ code: 'IMAGE_TOO_LARGE', message: 'The image is 60 MB; the limit is 50 MB.' }).message).toBe('The image is 60 MB; the limit is 50 MB.');
  });
});
