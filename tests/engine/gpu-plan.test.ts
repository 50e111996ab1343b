import { describe, expect, it } from 'vitest';
import { candidateVariants, kvBytesPerLayer, planGpuLayers, usableGpus, type ModelFootprint } from '../../electron/engine/gpu-plan';

const GiB = 1024 ** 3;
// FireLLaVA-13B at F16: 40 layers of ~634 MB, 5120 wide, 32000 tokens.
const fire13b: ModelFootprint = {
  layerBytes: Array.from({ length: 40 }, () => 634_000_000),
  outputBytes: 5120 * 32000 * 2,
  nEmbd: 5120,
  nHead: 40,
  nHeadKv: 40,
  nVocab: 32000,
  mmprojBytes: 624_000_000,
};

describe('GPU plan', () => {
  it('picks Metal on macOS and CUDA first where an NVIDIA driver exists', () => {
    expect(candidateVariants('darwin', false)).toEqual(['default']);
    expect(candidateVariants('linux', true)).toEqual(['cuda', 'vulkan', 'default']);
    expect(candidateVariants('win32', false)).toEqual(['vulkan', 'default']);
  });

  it('ignores software GPUs and the CPU device', () => {
    const gpus = usableGpus([
      { backend: 'CPU', type: 'cpu', name: 'CPU', memoryBytes: 64 * GiB },
      { backend: 'Vulkan', type: 'gpu', name: 'llvmpipe (LLVM 15.0.6, 256 bits)', memoryBytes: 8 * GiB },
      { backend: 'Vulkan', type: 'gpu', name: 'AMD Radeon RX 7900', memoryBytes: 24 * GiB },
    ]);
    expect(gpus.map((g) => g.name)).toEqual(['AMD Radeon RX 7900']);
  });

  it('KV cache of the 13B at 4096 context is 3.2 GB (F16 K and V, 40 layers)', () => {
    expect(kvBytesPerLayer(fire13b, 4096) * 40).toBe(2 * 4096 * 5120 * 2 * 40);
  });

  it('a 80 GB card holds everything, output layer and vision included', () => {
    const plan = planGpuLayers(fire13b, 4096, 80 * GiB);
    expect(plan).toMatchObject({ nGpuLayers: 41, totalLayers: 40, fit: 'full', visionOnGpu: true });
    expect(plan.estimatedBytes).toBeLessThan(80 * GiB);
  });

  it('a 12 GB card takes part of the layers, never more than fits', () => {
    const plan = planGpuLayers(fire13b, 4096, 12 * GiB);
    expect(plan.fit).toBe('partial');
    expect(plan.nGpuLayers).toBeGreaterThan(5);
    expect(plan.nGpuLayers).toBeLessThan(40);
    expect(plan.estimatedBytes).toBeLessThan(12 * GiB);
    // One more layer would not fit.
    const perLayer = 634_000_000 + kvBytesPerLayer(fire13b, 4096);
    expect(plan.estimatedBytes + perLayer).toBeGreaterThan(12 * GiB * 0.9 - 256 * 1024 * 1024);
  });

  it('a longer context leaves room for fewer layers', () => {
    const short = planGpuLayers(fire13b, 2048, 12 * GiB).nGpuLayers;
    const long = planGpuLayers(fire13b, 4096, 12 * GiB).nGpuLayers;
    expect(long).toBeLessThan(short);
  });

  it('a 1 GB card runs on the CPU', () => {
    expect(planGpuLayers(fire13b, 4096, 1 * GiB)).toMatchObject({ nGpuLayers: 0, fit: 'cpu', visionOnGpu: false });
  });
});
