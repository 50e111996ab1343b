// CPU cost of the k-quant encoders alone (the part of a Q4_K_M conversion that is CPU-bound):
// CPU-seconds per million values, median of 5, on Gaussian weights (sd 0.02, 1% outliers x100).
// Run (argument: million values, default 4):
//   node_modules/.bin/esbuild bench/kquant-bench.ts --bundle --platform=node --outfile=/tmp/kq.cjs
//   node /tmp/kq.cjs 4
import { quantizeQ4_K, quantizeQ6_K } from '../electron/convert/quantize-k';

const n = Math.round(Number(process.argv[2] ?? 4) * 2 ** 20 / 256) * 256;
const x = new Float32Array(n);
let seed = 12345;
const rnd = (): number => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return (seed + 0.5) / 2 ** 32;
};
for (let i = 0; i < n; i++) {
  const g = Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd());
  x[i] = g * (rnd() < 0.01 ? 2 : 0.02);
}
for (const [name, quantize] of [['Q4_K', quantizeQ4_K], ['Q6_K', quantizeQ6_K]] as const) {
  quantize(x.subarray(0, 65536)); // warm up the JIT
  const perM: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = process.cpuUsage();
    quantize(x);
    const used = process.cpuUsage(start);
    perM.push((used.user + used.system) / 1e6 / (n / 1e6));
  }
  perM.sort((a, b) => a - b);
  const med = perM[2] as number;
  console.log(`${name}: ${med.toFixed(4)} CPU-s per M values (${(1 / med).toFixed(1)} M values per CPU-second), runs ${perM.map((v) => v.toFixed(4)).join(' ')}`);
}
