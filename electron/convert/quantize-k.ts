// ggml's k-quants as its reference quantizers make them (quantize_row_q4_K_ref /
// quantize_row_q6_K_ref, which llama-quantize uses when no importance matrix is given).
// Super-blocks of 256 values:
//   Q4_K (144 bytes): f16 d, f16 dmin, 12 bytes of 6-bit scales/mins for 8 sub-blocks of 32,
//        128 bytes of nibbles; x = d*sc[j]*q - dmin*m[j], q in 0..15. Scales are packed as
//        bytes 0-3: sc[0..3] (low 6 bits), bytes 4-7: m[0..3]; bytes 8-11: sc[4..7] low nibble |
//        m[4..7] low nibble << 4, their high 2 bits in the top bits of bytes 0-3 (sc) and 4-7 (m).
//        Nibbles: byte 32c+l holds q[64c+l] (low) and q[64c+l+32] (high).
//   Q6_K (210 bytes): ql[128] low nibbles, qh[64] high 2 bits, int8 scales[16] for 16
//        sub-blocks of 16, f16 d last; x = d*scales[j]*(q - 32), q in 0..63. Per half h (128
//        values): ql[64h+l] = q[l] | q[l+64] << 4, ql[64h+l+32] = q[l+32] | q[l+96] << 4,
//        qh[32h+l] = q[l]>>4 | q[l+32]>>4 << 2 | q[l+64]>>4 << 4 | q[l+96]>>4 << 6.
// Every operation is rounded to float32 in the C expression order, so the bytes equal ggml's
// for a build without fused multiply-add (GCC may contract a*b+c into FMA with -march=native;
// such builds can differ in rare last-bit ties, and they differ from each other too).
import { f16ToF32, f32ToF16 } from '../gguf/gguf-writer';

export const QK_K = 256;
export const Q4_K_BLOCK_BYTES = 144;
export const Q6_K_BLOCK_BYTES = 210;

const fr = Math.fround;
const GROUP_MAX_EPS = fr(1e-15);
const RDELTA_Q4K = fr(0.1);
const TENTH = fr(0.1);

/**
 * ggml's nearest_int (round half to even via float32 x + 1.5 * 2^23) for a float32 x: floor of
 * x + 0.5 (exact in double), and a tie that landed on an odd number moves down.
 */
function nearestInt(x: number): number {
  const l = Math.floor(x + 0.5);
  return l - x === 0.5 && (l & 1) !== 0 ? l - 1 : l;
}

// Per-thread scratch, reused by every block (the quantizers are not re-entrant).
const L = new Uint8Array(QK_K);
const LAUX = new Uint8Array(32);
const W32 = new Float64Array(32);
const D32 = new Float64Array(32);
const HI32 = new Float64Array(32);
/**
 * The least float32 product that rounds (nearest_int, ties to even) above l, for l in 0..nmax:
 * l + 0.5 for an odd l, just above it for an even l (l + 0.5 >= 0.5 has float32 steps >=
 * 2^-24); Infinity at nmax, where l is clamped.
 */
function roundsAbove(nmax: number): Float64Array {
  const t = new Float64Array(nmax + 1);
  for (let l = 0; l < nmax; l++) t[l] = (l & 1) !== 0 ? l + 0.5 : l + 0.5 + 2 ** -30;
  t[nmax] = Infinity;
  return t;
}
const ROUNDS_ABOVE_15 = roundsAbove(15);
const scales = new Float64Array(16);
const mins = new Float64Array(8);
const AVX8 = new Float64Array(8);
let theMin = 0;

/** ggml's float32 weighted error of L[lo..lo+32) with this scale and min (weights in W32). */
function q4kError(x: Float32Array, s: number, lo: number, scale: number, min: number): number {
  const weights = W32;
  let err = 0;
  for (let i = 0; i < 32; i++) {
    const diff = fr(fr(fr(scale * (L[lo + i] as number)) + min) - (x[s + i] as number));
    err = fr(err + fr((weights[i] as number) * fr(diff * diff)));
  }
  return err;
}

let errorMargin = 0;

/**
 * The weighted error of L (double sums sl = sum w l, sl2 = sum w l^2, sxl = sum w l x) with
 * scale a and min m in closed form; errorMargin gets a bound on its distance from ggml's
 * float32 loop, valid away from float32 overflow and underflow (amax in [1e-10, 1e10]): each
 * float32 diff is off by <= 1.5 * 2^-24 * M, the float32 products and sum by <= 33 * 2^-24 of
 * the total, and the closed form's cancellation costs ~1e-12 of its terms (T).
 */
function bracketError(a: number, m: number, sl: number, sl2: number, sxl: number, sumW: number, sumX: number, sumXX: number, amax: number, nmax: number): number {
  const t1 = a * a * sl2;
  const t2 = 2 * a * m * sl;
  const t3 = m * m * sumW;
  const t4 = 2 * a * sxl;
  const t5 = 2 * m * sumX;
  const E = t1 + t2 + t3 - t4 - t5 + sumXX;
  const Ep = E > 0 ? E : 0;
  const T = t1 + Math.abs(t2) + t3 + Math.abs(t4) + Math.abs(t5) + sumXX;
  const M = 2 * (Math.abs(a) * nmax + Math.abs(m) + amax);
  errorMargin = 1e-5 * Ep + 1e-6 * M * Math.sqrt(sumW * Ep) + 1e-12 * M * M * sumW + 1e-8 * T + 1e-30 * (sumW + 1);
  return E;
}

/**
 * make_qkx2_quants for 32 values at x[s..] with Q4_K's weights avX + |x|: an asymmetric fit
 * x ~ scale*L - theMin with L in 0..nmax, searched over nstep+1 candidate scales; L goes to
 * L[lo..lo+32). Returns the scale, leaves the (positive) min in theMin.
 */
function makeQkx2(x: Float32Array, s: number, avX: number, nmax: number, lo: number, rmin: number, rdelta: number, nstep: number): number {
  const n = 32;
  // Locals, not module bindings, in the hot loops.
  const weights = W32;
  const diffs = D32;
  const Laux = LAUX;
  // One pass for the weights (ggml's av_x + |x|), the float32 sums and the double screening sums.
  let min = x[s] as number;
  let max = min;
  let sumW = fr(avX + Math.abs(min));
  weights[0] = sumW;
  let sumX = fr(sumW * min);
  let sumWd = sumW;
  let sumXd = sumW * min; // float32 * float32: exact in double
  let sumXXd = sumW * min * min;
  let amax = Math.abs(min);
  for (let i = 1; i < n; i++) {
    const v = x[s + i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
    const a = Math.abs(v);
    if (a > amax) amax = a;
    const w = fr(avX + a);
    weights[i] = w;
    sumW = fr(sumW + w);
    sumX = fr(sumX + fr(w * v));
    sumWd += w;
    sumXd += w * v;
    sumXXd += w * v * v;
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    theMin = -min;
    return 0;
  }
  let iscale = fr(nmax / fr(max - min));
  let scale = fr(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const v = x[s + i] as number;
    const dx = fr(v - min);
    diffs[i] = dx;
    let l = nearestInt(fr(iscale * dx));
    l = l < 0 ? 0 : l > nmax ? nmax : l;
    L[lo + i] = l;
    const diff = fr(fr(fr(scale * l) + min) - v);
    bestError = fr(bestError + fr((weights[i] as number) * fr(diff * diff)));
  }
  // bestError is exact (bestKnown) or, after a winner whose error was not needed, in
  // [bestLo, bestHi] (bracketError).
  let bestKnown = true;
  let bestLo = 0;
  let bestHi = 0;
  const bracketed = amax >= 1e-10 && amax <= 1e10;
  let sl = 0;
  let sl2 = 0;
  let sxl = 0;
  // Screening, in double: a candidate's float32 error is never below the least-squares minimum
  // over (scale, min) for its L (whatever scale and min float32 arithmetic lands on) by more
  // than the float32 rounding of its evaluation. A candidate whose minimum, less that margin,
  // is still above the best error cannot win, so its float32 fit is skipped. Only the few
  // close or winning candidates run the exact float32 code, which keeps the bytes ggml's.
  // Within a run of candidates with the same min, iscale only grows (every float32 step is
  // monotone and max - min > 0), so each l only grows: an element keeps its l until
  // fr(iscale * diff) reaches roundsAbove(nmax)[l]. Those candidates test one product per
  // element and update the double sums by the changed terms (exact products; the sums round
  // like the full ones, far inside the screening margin); the full pass runs after min moves.
  // A non-finite or non-positive range (overflow, NaN products) keeps the full pass throughout.
  const hi = HI32;
  const hiOf = nmax === 15 ? ROUNDS_ABOVE_15 : roundsAbove(nmax);
  let full = true;
  for (let is = 0; is <= nstep; is++) {
    const range = fr(max - min);
    iscale = fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / range);
    let changed = is === 0;
    if (full) {
      sl = 0;
      sl2 = 0;
      sxl = 0;
      for (let i = 0; i < n; i++) {
        const v = x[s + i] as number;
        const dx = fr(v - min); // x - min for the min this pass follows
        diffs[i] = dx;
        let l = nearestInt(fr(iscale * dx));
        l = l < 0 ? 0 : l > nmax ? nmax : l;
        if (Laux[i] !== l) changed = true;
        Laux[i] = l;
        hi[i] = hiOf[l] as number;
        const wl = (weights[i] as number) * l; // exact in double, as are the products below
        sl += wl;
        sl2 += wl * l;
        sxl += wl * v;
      }
      full = !(range > 0 && range < Infinity && fr(fr(fr(rmin + fr(rdelta * nstep)) + nmax) / range) < Infinity);
    } else {
      for (let i = 0; i < n; i++) {
        const t = fr(iscale * (diffs[i] as number));
        if (t < (hi[i] as number)) continue;
        const l0 = Laux[i] as number;
        // The clamped nearest_int(t) is the first l whose threshold lies above t.
        let l = l0 + 1;
        while (t >= (hiOf[l] as number)) l++;
        Laux[i] = l;
        hi[i] = hiOf[l] as number;
        const w = weights[i] as number;
        const dwl = w * (l - l0);
        sl += dwl;
        sl2 += w * (l * l - l0 * l0);
        sxl += dwl * (x[s + i] as number);
        changed = true;
      }
    }
    // The same L as the previous candidate gives the same fit and error, which already lost
    // (or won and is the best): skipping it changes nothing.
    if (!changed) continue;
    const Dd = sumWd * sl2 - sl * sl;
    if (Dd > 1e-6 * sumWd * sl2) {
      const sd = (sumWd * sxl - sumXd * sl) / Dd;
      const md = (sl2 * sumXd - sl * sxl) / Dd;
      // The least-squares minimum in closed form, sum w x^2 - (s sum w l x + m sum w x): its
      // cancellation costs ~1e-10 of the terms at this conditioning, far inside the margin.
      const sx = Math.abs(sd * sxl) + Math.abs(md * sumXd);
      const e = sumXXd - sd * sxl - md * sumXd;
      // Terms of a float32 diff are at most M; each diff is off by <= 3 ulp(M), the sum by 40 ulps.
      const M = 2 * (Math.abs(sd) * nmax + Math.abs(md) + amax);
      if (e >= 1e-12 * M * M * sumWd && e - 1e-5 * e - 1e-6 * M * Math.sqrt(sumWd * e) - 1e-8 * (sumXXd + sx) > (bestKnown ? bestError : bestHi)) continue;
    }
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Laux[i] as number;
      const wl = fr((weights[i] as number) * l);
      sumL = fr(sumL + wl);
      sumL2 = fr(sumL2 + fr(wl * l));
      sumXL = fr(sumXL + fr(wl * (x[s + i] as number)));
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (D > 0) {
      let thisScale = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
      let thisMin = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = fr(sumXL / sumL2);
      }
      const E = bracketError(thisScale, thisMin, sl, sl2, sxl, sumWd, sumXd, sumXXd, amax, nmax);
      const curLo = E - errorMargin;
      const curHi = E + errorMargin;
      // Where the brackets decide curError < bestError, ggml's float32 loop is skipped; a
      // winner's exact error is computed only when a later comparison needs it.
      let wins: boolean;
      let curError = 0;
      let curKnown = false;
      if (bracketed && curHi < (bestKnown ? bestError : bestLo)) wins = true;
      else if (bracketed && curLo >= (bestKnown ? bestError : bestHi)) wins = false;
      else {
        if (!bestKnown) {
          bestError = q4kError(x, s, lo, scale, min);
          bestKnown = true;
        }
        for (let i = 0; i < n; i++) {
          const diff = fr(fr(fr(thisScale * (Laux[i] as number)) + thisMin) - (x[s + i] as number));
          curError = fr(curError + fr((weights[i] as number) * fr(diff * diff)));
        }
        curKnown = true;
        wins = curError < bestError;
      }
      if (wins) {
        L.set(Laux, lo);
        bestKnown = curKnown;
        bestError = curError;
        bestLo = curLo;
        bestHi = curHi;
        scale = thisScale;
        if (thisMin !== min) {
          min = thisMin;
          full = true; // recomputes diffs
        }
      }
    }
  }
  theMin = -min;
  return scale;
}

/** Writes n values (a multiple of 256) from src[s..] as Q4_K super-blocks at dst[o..]. */
export function quantizeQ4_KInto(x: Float32Array, s: number, n: number, dst: Uint8Array, o: number): void {
  for (let end = s + n; s < end; s += QK_K, o += Q4_K_BLOCK_BYTES) {
    let maxScale = 0;
    let maxMin = 0;
    // Each sub-block's float32 sum of squares in its own order, four chains at a time (a
    // float32 add waits for the previous one; independent chains overlap).
    for (let j = 0; j < 8; j += 4) {
      const b = s + 32 * j;
      let q0 = 0;
      let q1 = 0;
      let q2 = 0;
      let q3 = 0;
      for (let l = 0; l < 32; l++) {
        const v0 = x[b + l] as number;
        const v1 = x[b + 32 + l] as number;
        const v2 = x[b + 64 + l] as number;
        const v3 = x[b + 96 + l] as number;
        q0 = fr(q0 + fr(v0 * v0));
        q1 = fr(q1 + fr(v1 * v1));
        q2 = fr(q2 + fr(v2 * v2));
        q3 = fr(q3 + fr(v3 * v3));
      }
      AVX8[j] = fr(Math.sqrt(fr(q0 / 32)));
      AVX8[j + 1] = fr(Math.sqrt(fr(q1 / 32)));
      AVX8[j + 2] = fr(Math.sqrt(fr(q2 / 32)));
      AVX8[j + 3] = fr(Math.sqrt(fr(q3 / 32)));
    }
    for (let j = 0; j < 8; j++) {
      const sc = makeQkx2(x, s + 32 * j, AVX8[j] as number, 15, 32 * j, -1, RDELTA_Q4K, 20);
      scales[j] = sc;
      mins[j] = theMin;
      if (sc > maxScale) maxScale = sc;
      if (theMin > maxMin) maxMin = theMin;
    }
    const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
    const dh = f32ToF16(fr(maxScale / 63));
    const mh = f32ToF16(fr(maxMin / 63));
    dst[o] = dh & 0xff;
    dst[o + 1] = dh >>> 8;
    dst[o + 2] = mh & 0xff;
    dst[o + 3] = mh >>> 8;
    const q = o + 4; // scales[12]
    const d = f16ToF32(dh);
    const dmin = f16ToF32(mh);
    for (let j = 0; j < 8; j++) {
      // uint8_t ls = nearest_int(...): the C assignment wraps, then MIN(63, ·).
      const ls = Math.min(63, nearestInt(fr(invScale * (scales[j] as number))) & 0xff);
      const lm = Math.min(63, nearestInt(fr(invMin * (mins[j] as number))) & 0xff);
      if (j < 4) {
        dst[q + j] = ls;
        dst[q + j + 4] = lm;
      } else {
        dst[q + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        dst[q + j - 4] = (dst[q + j - 4] as number) | ((ls >>> 4) << 6);
        dst[q + j] = (dst[q + j] as number) | ((lm >>> 4) << 6);
      }
      // Requantize with the stored (rounded) scale and min; a zero scale keeps the fit's L.
      const dl = fr(d * ls);
      if (dl === 0) continue;
      const dm = fr(dmin * lm);
      const b = s + 32 * j;
      for (let i = 0; i < 32; i++) {
        const l = nearestInt(fr(fr((x[b + i] as number) + dm) / dl));
        L[32 * j + i] = l < 0 ? 0 : l > 15 ? 15 : l;
      }
    }
    for (let c = 0; c < 4; c++) {
      const qo = o + 16 + 32 * c;
      for (let l = 0; l < 32; l++) dst[qo + l] = (L[64 * c + l] as number) | ((L[64 * c + l + 32] as number) << 4);
    }
  }
}

const L6 = new Int8Array(QK_K);
const LT16 = new Int8Array(16);
const w6 = new Float64Array(16);
const wx6 = new Float64Array(16);
const AX6 = new Float64Array(16);
const THR6 = new Float64Array(16);
const SIDE6 = new Uint8Array(16);
// roundsAbove for |l| of Q6_K's l in -32..31: positive side at 0, negative side at Q6_NEG.
const Q6_NEG = 33;
const ROUNDS_ABOVE_Q6 = new Float64Array(66);
ROUNDS_ABOVE_Q6.set(roundsAbove(31), 0);
ROUNDS_ABOVE_Q6.set(roundsAbove(32), Q6_NEG);

/** make_qx_quants(16, 32, x, L, rmse_type 1): a symmetric fit searched over 19 scales. */
function makeQx16(x: Float32Array, s: number, lo: number): number {
  const nmax = 32;
  let max = 0;
  let amax = 0;
  for (let i = 0; i < 16; i++) {
    const v = x[s + i] as number;
    const a = Math.abs(v);
    if (a > amax) {
      amax = a;
      max = v;
    }
    const w = fr(v * v);
    w6[i] = w;
    wx6[i] = fr(w * v);
  }
  if (amax < GROUP_MAX_EPS) {
    L6.fill(0, lo, lo + 16);
    return 0;
  }
  let iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < 16; i++) {
    let l = nearestInt(fr(iscale * (x[s + i] as number)));
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    L6[lo + i] = l + nmax;
    sumlx = fr(sumlx + fr((wx6[i] as number) * l));
    suml2 = fr(suml2 + fr(fr((w6[i] as number) * l) * l));
  }
  let scale = suml2 !== 0 ? fr(sumlx / suml2) : 0;
  let best = fr(scale * sumlx);
  // Screening as in makeQkx2: the sums in double (exact products of same-sign terms) are within
  // 20 float32 ulps of ggml's, so a candidate whose double ratio is clearly below the best is
  // skipped; the others run the exact float32 test.
  // |iscale| grows with is, so each |l| only grows (rounding is symmetric: |fr(iscale * x)| is
  // fr(|iscale| * |x|), nearest_int(-t) is -nearest_int(t)); after the first candidate an
  // element keeps its l until that product reaches its threshold (roundsAbove, capped at 31 on
  // the positive side and 32 on the negative). The double sums take the changed terms, which
  // have the sign of the others, so they stay within a few double ulps of a full sum.
  const Lt = LT16;
  const ax = AX6;
  const thr = THR6;
  const side = SIDE6;
  const table = ROUNDS_ABOVE_Q6;
  const amaxF = Math.abs(max);
  let sx = 0;
  let s2 = 0;
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    const num = fr(nmax + fr(TENTH * is));
    let changed = is === -9;
    if (changed) {
      iscale = fr(-num / max);
      for (let i = 0; i < 16; i++) {
        const v = x[s + i] as number;
        let l = nearestInt(fr(iscale * v));
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        Lt[i] = l;
        sx += (wx6[i] as number) * l;
        s2 += (w6[i] as number) * l * l;
        ax[i] = Math.abs(v);
        // Negative products when x has the sign of max (iscale = -nmax / max).
        const neg = (v < 0) === (max < 0) ? Q6_NEG : 0;
        side[i] = neg;
        thr[i] = table[neg + Math.abs(l)] as number;
      }
    } else {
      const aiscale = fr(num / amaxF);
      for (let i = 0; i < 16; i++) {
        const a = fr(aiscale * (ax[i] as number));
        if (a < (thr[i] as number)) continue;
        const neg = side[i] as number;
        const l0 = Lt[i] as number;
        // The clamped nearest_int(a) is the first |l| whose threshold lies above a.
        let m = (l0 < 0 ? -l0 : l0) + 1;
        while (a >= (table[neg + m] as number)) m++;
        const l = neg !== 0 ? -m : m;
        Lt[i] = l;
        thr[i] = table[neg + m] as number;
        sx += (wx6[i] as number) * (l - l0);
        s2 += (w6[i] as number) * (l * l - l0 * l0);
        changed = true;
      }
    }
    // The same L as the previous candidate decides the same way with the same result.
    if (!changed || !(s2 > 0) || sx * sx < best * s2 * (1 - 1e-5)) continue;
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < 16; i++) {
      const l = Lt[i] as number;
      sumlx = fr(sumlx + fr((wx6[i] as number) * l));
      suml2 = fr(suml2 + fr(fr((w6[i] as number) * l) * l));
    }
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      for (let i = 0; i < 16; i++) L6[lo + i] = (Lt[i] as number) + nmax;
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

/** Writes n values (a multiple of 256) from src[s..] as Q6_K super-blocks at dst[o..]. */
export function quantizeQ6_KInto(x: Float32Array, s: number, n: number, dst: Uint8Array, o: number): void {
  for (let end = s + n; s < end; s += QK_K, o += Q6_K_BLOCK_BYTES) {
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      const sc = makeQx16(x, s + 16 * ib, 16 * ib);
      scales[ib] = sc;
      const a = Math.abs(sc);
      if (a > maxAbsScale) {
        maxAbsScale = a;
        maxScale = sc;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) {
      dst.fill(0, o, o + Q6_K_BLOCK_BYTES);
      continue;
    }
    const iscale = fr(-128 / maxScale);
    const dh = f32ToF16(fr(1 / iscale));
    dst[o + 208] = dh & 0xff;
    dst[o + 209] = dh >>> 8;
    const d = f16ToF32(dh);
    for (let ib = 0; ib < 16; ib++) {
      const sc = Math.min(127, nearestInt(fr(iscale * (scales[ib] as number))));
      dst[o + 192 + ib] = sc; // int8 in two's complement
      const dl = fr(d * sc);
      if (dl === 0) continue;
      const b = s + 16 * ib;
      for (let i = 0; i < 16; i++) {
        let l = nearestInt(fr((x[b + i] as number) / dl));
        l = l < -32 ? -32 : l > 31 ? 31 : l;
        L6[16 * ib + i] = l + 32;
      }
    }
    for (let h = 0; h < 2; h++) {
      const j = 128 * h;
      const ql = o + 64 * h;
      const qh = o + 128 + 32 * h;
      for (let l = 0; l < 32; l++) {
        const a = L6[j + l] as number;
        const b = L6[j + l + 32] as number;
        const c = L6[j + l + 64] as number;
        const e = L6[j + l + 96] as number;
        dst[ql + l] = (a & 0xf) | ((c & 0xf) << 4);
        dst[ql + l + 32] = (b & 0xf) | ((e & 0xf) << 4);
        dst[qh + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
      }
    }
  }
}

function checkK(n: number): void {
  if (n % QK_K !== 0) throw new RangeError(`${n} values are not a whole number of ${QK_K}-value super-blocks`);
}

export function quantizeQ4_K(src: Float32Array): Uint8Array {
  checkK(src.length);
  const out = new Uint8Array((src.length / QK_K) * Q4_K_BLOCK_BYTES);
  quantizeQ4_KInto(src, 0, src.length, out, 0);
  return out;
}

export function quantizeQ6_K(src: Float32Array): Uint8Array {
  checkK(src.length);
  const out = new Uint8Array((src.length / QK_K) * Q6_K_BLOCK_BYTES);
  quantizeQ6_KInto(src, 0, src.length, out, 0);
  return out;
}

const half = (b: Uint8Array, o: number): number => f16ToF32((b[o] as number) | ((b[o + 1] as number) << 8));

/** ggml's get_scale_min_k4: sub-block j's 6-bit scale and min from the 12 packed bytes at q. */
export function q4KScaleMin(b: Uint8Array, q: number, j: number): [number, number] {
  if (j < 4) return [(b[q + j] as number) & 63, (b[q + j + 4] as number) & 63];
  return [((b[q + j + 4] as number) & 0xf) | (((b[q + j - 4] as number) >>> 6) << 4), ((b[q + j + 4] as number) >>> 4) | (((b[q + j] as number) >>> 6) << 4)];
}

export function dequantizeQ4_K(src: Uint8Array, n: number): Float32Array {
  checkK(n);
  const out = new Float32Array(n);
  for (let blk = 0; blk < n / QK_K; blk++) {
    const o = blk * Q4_K_BLOCK_BYTES;
    const d = half(src, o);
    const dmin = half(src, o + 2);
    for (let j = 0; j < 8; j++) {
      const [sc, m] = q4KScaleMin(src, o + 4, j);
      const c = j >> 1;
      const shift = (j & 1) * 4;
      for (let l = 0; l < 32; l++) {
        const q = ((src[o + 16 + 32 * c + l] as number) >>> shift) & 0xf;
        out[blk * QK_K + 32 * j + l] = fr(fr(fr(d * sc) * q) - fr(dmin * m));
      }
    }
  }
  return out;
}

export function dequantizeQ6_K(src: Uint8Array, n: number): Float32Array {
  checkK(n);
  const out = new Float32Array(n);
  for (let blk = 0; blk < n / QK_K; blk++) {
    const o = blk * Q6_K_BLOCK_BYTES;
    const d = half(src, o + 208);
    for (let i = 0; i < QK_K; i++) {
      const h = i >> 7;
      const k = i & 127; // position in the half
      const quarter = k >> 5;
      const l = k & 31;
      const lowByte = src[o + 64 * h + l + (quarter & 1) * 32] as number;
      const low = quarter < 2 ? lowByte & 0xf : lowByte >>> 4;
      const high = ((src[o + 128 + 32 * h + l] as number) >>> (2 * quarter)) & 3;
      const sc = ((src[o + 192 + (i >> 4)] as number) << 24) >> 24;
      out[blk * QK_K + i] = fr(fr(d * sc) * ((low | (high << 4)) - 32));
    }
  }
  return out;
}
