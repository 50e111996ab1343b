// How many sequences (slots) the worker serves at once. Each slot owns a full context of KV cache
// (FireLLaVA-13B: ~0.78 MiB of f16 per token, 3.1 GiB for 4,096 tokens), so N follows memory.
import { kvBytesPerLayer, planGpuLayers, type ModelFootprint } from './gpu-plan';

/** More slots than this rarely help a desktop (the batch gets compute-bound) and cost memory. */
export const MAX_SLOTS = 4;

export interface SlotPlanInput {
  footprint: ModelFootprint;
  nCtx: number;
  /** Free device memory when the model goes on a GPU; null on the CPU. */
  gpuFreeBytes: number | null;
  /** Free RAM (os.freemem()) for the CPU case. */
  ramFreeBytes: number;
  /** Engine setting; 0 or unset: automatic. */
  override?: number;
}

/** F16 K+V bytes of one token over all layers. */
export function kvBytesPerToken(m: ModelFootprint): number {
  return kvBytesPerLayer(m, 1) * m.layerBytes.length;
}

export function planSlots(input: SlotPlanInput): number {
  if (input.override && input.override > 0) return Math.min(MAX_SLOTS, Math.floor(input.override));
  const { footprint: m, nCtx } = input;
  if (input.gpuFreeBytes !== null) {
    // Extra slots only where they keep every layer the single slot would have on the GPU:
    // single-stream speed never pays for parallelism.
    const base = planGpuLayers(m, nCtx, input.gpuFreeBytes).nGpuLayers;
    for (let n = MAX_SLOTS; n > 1; n--) if (planGpuLayers(m, nCtx * n, input.gpuFreeBytes).nGpuLayers >= base) return n;
    return 1;
  }
  // CPU: weights are mmapped from the file; half of what is left over may hold extra slots.
  const weights = m.layerBytes.reduce((a, b) => a + b, 0) + m.outputBytes + m.mmprojBytes;
  const spare = (input.ramFreeBytes - weights) * 0.5;
  const perSlot = kvBytesPerToken(m) * nCtx;
  return Math.max(1, Math.min(MAX_SLOTS, Math.floor(spare / perSlot)));
}
