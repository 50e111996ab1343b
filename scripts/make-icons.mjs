// Draws the app icon (a flame-orange rounded square with a white lens) and writes every format the
// installers need: resources/icon.png, resources/icons/NxN.png (Linux), icon.ico, icon.icns.
// The outputs are checked in; rerun only to change the design: node scripts/make-icons.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

const OUT = path.resolve(import.meta.dirname, '..', 'resources');

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function encodePng(size, rgba) {
  const stride = size * 4;
  const raw = Buffer.alloc((stride + 1) * size);
  for (let y = 0; y < size; y++) rgba.copy(raw, y * (stride + 1) + 1, y * stride, (y + 1) * stride);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8;
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Coverage-based anti-aliasing: 4×4 samples per pixel. */
function draw(size) {
  const px = Buffer.alloc(size * size * 4);
  const s = 4;
  const radius = 0.2; // corner radius, relative
  const inRounded = (x, y) => {
    const m = 0.04; // margin as macOS icons have
    const lo = m + radius, hi = 1 - m - radius;
    const cx = Math.min(Math.max(x, lo), hi), cy = Math.min(Math.max(y, lo), hi);
    return x >= m && x <= 1 - m && y >= m && y <= 1 - m && (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2;
  };
  const ring = (x, y) => {
    const d = Math.hypot(x - 0.5, y - 0.52);
    return d <= 0.27 && d >= 0.17 ? 1 : d < 0.09 ? 1 : 0;
  };
  for (let py = 0; py < size; py++) {
    for (let pxX = 0; pxX < size; pxX++) {
      let bg = 0, fg = 0;
      for (let sy = 0; sy < s; sy++) {
        for (let sx = 0; sx < s; sx++) {
          const x = (pxX + (sx + 0.5) / s) / size, y = (py + (sy + 0.5) / s) / size;
          if (inRounded(x, y)) {
            bg++;
            fg += ring(x, y);
          }
        }
      }
      const n = s * s, i = (py * size + pxX) * 4;
      const t = py / size; // vertical gradient: amber to red
      const r = 255, g = Math.round(170 - 110 * t), b = Math.round(40 - 20 * t);
      const a = bg / n, w = bg ? fg / bg : 0;
      px[i] = Math.round(r * (1 - w) + 255 * w);
      px[i + 1] = Math.round(g * (1 - w) + 255 * w);
      px[i + 2] = Math.round(b * (1 - w) + 255 * w);
      px[i + 3] = Math.round(255 * a);
    }
  }
  return encodePng(size, px);
}

function ico(pngs) {
  const header = Buffer.alloc(6);
  header.writeUInt16LE(1, 2); // type: icon
  header.writeUInt16LE(pngs.length, 4);
  let offset = 6 + 16 * pngs.length;
  const entries = pngs.map(([size, data]) => {
    const e = Buffer.alloc(16);
    e[0] = size >= 256 ? 0 : size; // 0 means 256
    e[1] = size >= 256 ? 0 : size;
    e.writeUInt16LE(1, 4); // planes
    e.writeUInt16LE(32, 6); // bits per pixel
    e.writeUInt32LE(data.length, 8);
    e.writeUInt32LE(offset, 12);
    offset += data.length;
    return e;
  });
  return Buffer.concat([header, ...entries, ...pngs.map(([, d]) => d)]);
}

function icns(entries) {
  const parts = entries.map(([type, data]) => {
    const head = Buffer.alloc(8);
    head.write(type, 0, 'latin1');
    head.writeUInt32BE(data.length + 8, 4);
    return Buffer.concat([head, data]);
  });
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'latin1');
  head.writeUInt32BE(body.length + 8, 4);
  return Buffer.concat([head, body]);
}

const sizes = [16, 32, 48, 64, 128, 256, 512, 1024];
const png = Object.fromEntries(sizes.map((n) => [n, draw(n)]));
mkdirSync(path.join(OUT, 'icons'), { recursive: true });
writeFileSync(path.join(OUT, 'icon.png'), png[1024]);
for (const n of sizes.filter((n) => n <= 512)) writeFileSync(path.join(OUT, 'icons', `${n}x${n}.png`), png[n]);
writeFileSync(path.join(OUT, 'icon.ico'), ico([16, 32, 48, 64, 128, 256].map((n) => [n, png[n]])));
// PNG-payload icns types: icp4 16, icp5 32, icp6 64, ic07 128, ic08 256, ic09 512, ic10 1024 (512@2x).
writeFileSync(path.join(OUT, 'icon.icns'), icns([['icp4', png[16]], ['icp5', png[32]], ['icp6', png[64]], ['ic07', png[128]], ['ic08', png[256]], ['ic09', png[512]], ['ic10', png[1024]]]));
console.log(`icons written to ${OUT}`);
