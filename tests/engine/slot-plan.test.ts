import { describe, expect, it } from 'vitest';
import { planGpuLayers, type ModelFootprint } from '../../electron/engine/gpu-plan';
import { kvBytesPerToken, planSlots } from '../../electron/engine/slot-plan';

const GiB = 1024 ** 3;
// FireLLaVA-13B at Q4_K_M: 40 layers of ~180 MB, 5120 wide, no grouped-query attention.
const q4: ModelFootprint = {
  layerBytes: Array.from({ length: 40 }, () => 180_000_000),
  outputBytes: 5120 * 32000,
  nEmbd: 5120,
  nHead: 40,
  nHeadKv: 40,
  nVocab: 32000,
  mmprojBytes: 624_000_000,
};

describe('slot plan', () => {
  it('knows FireLLaVA-13B needs ~0.78 MiB of f16 KV per token', () => {
    expect(kvBytesPerToken(q4) / 1024 ** 2).toBeCloseTo(0.78, 2);
  });

  it('gives a 24 GB GPU several slots without taking a layer off the single-slot plan', () => {
    const n = planSlots({ footprint: q4, nCtx: 4096, gpuFreeBytes: 24 * GiB, ramFreeBytes: 0 });
    expect(n).toBeGreaterThanOrEqual(2);
    expect(planGpuLayers(q4, 4096 * n, 24 * GiB).nGpuLayers).toBe(planGpuLayers(q4, 4096, 24 * GiB).nGpuLayers);
  });

  it('falls back to one slot where memory is short, and follows the setting', () => {
    expect(planSlots({ footprint: q4, nCtx: 4096, gpuFreeBytes: 8 * GiB, ramFreeBytes: 0 })).toBe(1);
    expect(planSlots({ footprint: q4, nCtx: 4096, gpuFreeBytes: null, ramFreeBytes: 10 * GiB })).toBe(1);
    expect(planSlots({ footprint: q4, nCtx: 4096, gpuFreeBytes: null, ramFreeBytes: 64 * GiB })).toBe(4);
    expect(planSlots({ footprint: q4, nCtx: 4096, gpuFreeBytes: 8 * GiB, ramFreeBytes: 0, override: 3 })).toBe(3);
  });
});
