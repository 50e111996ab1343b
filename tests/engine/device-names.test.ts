import { describe, expect, it } from 'vitest';
import { parseDeviceNames } from '../../electron/engine/device-names';

describe('GPU names from llama.cpp logs', () => {
  it('reads Vulkan and CUDA device lines as printed by ggml', () => {
    const log = [
      'ggml_vulkan: Found 2 Vulkan devices:',
      'ggml_vulkan: 0 = NVIDIA H100 80GB HBM3 (NVIDIA) | uma: 0 | fp16: 1 | bf16: 1 | warp size: 32',
      'ggml_vulkan: 1 = AMD Radeon RX 7900 XTX (RADV NAVI31) (radv) | uma: 0 | fp16: 1',
      'ggml_cuda_init: found 1 CUDA devices:',
      '  Device 0: NVIDIA GeForce RTX 4090, compute capability 8.9, VMM: yes',
    ].join('\n');
    const names = parseDeviceNames(log);
    expect(names.get('Vulkan0')).toBe('NVIDIA H100 80GB HBM3');
    expect(names.get('Vulkan1')).toBe('AMD Radeon RX 7900 XTX (RADV NAVI31)');
    expect(names.get('CUDA0')).toBe('NVIDIA GeForce RTX 4090');
  });

  it('knows nothing from an unrelated log', () => {
    expect(parseDeviceNames('load: special tokens cache size = 3').size).toBe(0);
  });
});
