// Which llama.node build to use and how many layers fit on the GPU. The model manager shows the
// same numbers before a download, so this stays pure: inputs are GGUF sizes and device facts.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LibVariant, WorkerDevice } from './worker-protocol';

const MiB = 1024 * 1024;

/** Variants to try, best first. macOS's default build is the Metal one. */
export function candidateVariants(platform: NodeJS.Platform, hasNvidiaDriver: boolean): LibVariant[] {
  if (platform === 'darwin') return ['default'];
  return hasNvidiaDriver ? ['cuda', 'vulkan', 'default'] : ['vulkan', 'default'];
}

export function detectNvidiaDriver(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): boolean {
  if (platform === 'linux') return existsSync('/proc/driver/nvidia/version');
  if (platform === 'win32') return existsSync(path.join(env.SystemRoot ?? 'C:\\Windows', 'System32', 'nvcuda.dll'));
  return false;
}

/** A real GPU: software rasterisers (llvmpipe, SwiftShader) would be slower than the CPU build. */
export function usableGpus(devices: readonly WorkerDevice[]): WorkerDevice[] {
  return devices
    .filter((d) => (d.type === 'gpu' || d.type === 'igpu') && !/llvmpipe|swiftshader|software/i.test(d.name))
    .sort((a, b) => b.memoryBytes - a.memoryBytes);
}

export interface ModelFootprint {
  /** Bytes of each repeating layer's weights, index = layer. */
  layerBytes: readonly number[];
  /** Output norm + output head: on the GPU only when every layer is. */
  outputBytes: number;
  nEmbd: number;
  nHead: number;
  nHeadKv: number;
  nVocab: number;
  /** Vision projector file size; 0 without one. */
  mmprojBytes: number;
}

export interface GpuPlan {
  nGpuLayers: number;
  totalLayers: number;
  fit: 'full' | 'partial' | 'cpu';
  visionOnGpu: boolean;
  /** What the plan puts in device memory, for the UI. */
  estimatedBytes: number;
}

/** F16 K and V for every position of one layer. */
export function kvBytesPerLayer(m: ModelFootprint, nCtx: number): number {
  const nEmbdKv = (m.nEmbd * m.nHeadKv) / Math.max(1, m.nHead);
  return 2 * nCtx * nEmbdKv * 2;
}

/** Scratch buffers llama.cpp allocates for one batch of 512 tokens, with room to spare. */
export function computeBufferBytes(m: ModelFootprint, nCtx: number): number {
  const batch = 512;
  return batch * (m.nEmbd * 16 + m.nVocab) * 4 + nCtx * batch * 4 + 64 * MiB;
}

/**
 * Offload from the last layer down, as llama.cpp does with n_gpu_layers, keeping a margin of
 * 10% of the device plus 256 MiB for the driver and fragmentation.
 */
export function planGpuLayers(m: ModelFootprint, nCtx: number, freeBytes: number): GpuPlan {
  const totalLayers = m.layerBytes.length;
  const cpu: GpuPlan = { nGpuLayers: 0, totalLayers, fit: 'cpu', visionOnGpu: false, estimatedBytes: 0 };
  let budget = freeBytes * 0.9 - 256 * MiB - computeBufferBytes(m, nCtx);
  // The projector runs once per image; on the GPU it turns seconds of CPU encoding into milliseconds.
  const visionBytes = m.mmprojBytes > 0 ? m.mmprojBytes + 128 * MiB : 0;
  const visionOnGpu = visionBytes > 0 && budget - visionBytes > 0;
  if (visionOnGpu) budget -= visionBytes;
  if (budget <= 0) return cpu;

  const kv = kvBytesPerLayer(m, nCtx);
  let used = 0;
  let n = 0;
  for (let i = totalLayers - 1; i >= 0; i--) {
    const need = (m.layerBytes[i] ?? 0) + kv;
    if (used + need > budget) break;
    used += need;
    n++;
  }
  if (n === totalLayers && used + m.outputBytes <= budget) {
    used += m.outputBytes;
    n = totalLayers + 1;
  }
  if (n === 0) return { ...cpu, visionOnGpu, estimatedBytes: visionOnGpu ? visionBytes : 0 };
  return {
    nGpuLayers: n,
    totalLayers,
    fit: n > totalLayers ? 'full' : 'partial',
    visionOnGpu,
    estimatedBytes: used + (visionOnGpu ? visionBytes : 0) + computeBufferBytes(m, nCtx),
  };
}
