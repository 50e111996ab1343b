// Whether a pair fits the GPU, shown before download (from the catalog's estimate) and before
// load (from the files' tensors). The numbers come from the engine's own planGpuLayers, so the
// badge and the engine's choice of GPU layers agree.
import { planGpuLayers, usableGpus, type ModelFootprint } from '../engine/gpu-plan';
import type { ModelPairInfo } from '../engine/model-validator';
import type { CatalogEntry, FitDevice, FitReport } from '../shared/contracts/models';
import { formatBytes } from '../shared/format';

export const DEFAULT_FIT_CONTEXT = 4096;

export function footprintFromPair(info: ModelPairInfo): ModelFootprint {
  const m = info.model;
  return {
    layerBytes: m.layerBytes,
    outputBytes: m.outputBytes,
    nEmbd: m.nEmbd,
    nHead: m.nHead,
    nHeadKv: m.nHeadKv,
    nVocab: m.nVocab,
    mmprojBytes: info.mmproj?.fileBytes ?? 0,
  };
}

/** Before download: equal layers, output head as large as the token embedding at the same width. */
export function footprintFromEstimate(e: CatalogEntry['estimate']): ModelFootprint {
  const perWeight = e.modelBytes / (e.nLayer * 12 * e.nEmbd * e.nEmbd + 2 * e.nEmbd * e.nVocab);
  const outputBytes = Math.round(perWeight * e.nEmbd * e.nVocab);
  const layer = Math.round((e.modelBytes - 2 * outputBytes) / e.nLayer);
  return {
    layerBytes: Array.from({ length: e.nLayer }, () => layer),
    outputBytes,
    nEmbd: e.nEmbd,
    nHead: e.nHead,
    nHeadKv: e.nHeadKv,
    nVocab: e.nVocab,
    mmprojBytes: e.mmprojBytes,
  };
}

/** devices null: not known yet (the engine reports them once it has started a model). */
export function estimateFit(footprint: ModelFootprint, devices: readonly FitDevice[] | null, nCtx = DEFAULT_FIT_CONTEXT, approximate = false): FitReport {
  const gpus = usableGpus(
    (devices ?? []).map((d) => ({ backend: d.backend, type: d.backend === 'cpu' ? ('cpu' as const) : ('gpu' as const), name: d.name, memoryBytes: d.memoryBytes ?? 0 })),
  ).filter((g) => g.memoryBytes > 0);
  const gpu = gpus[0];
  const totalLayers = footprint.layerBytes.length;
  const base = { devices: [...(devices ?? [])], nCtx, approximate, totalLayers };
  if (!gpu) {
    const summary = devices === null ? 'GPU not detected yet (the engine is busy): counted as CPU' : 'Runs on the CPU: no GPU found (slow)';
    return { ...base, fit: 'cpu', gpuLayers: 0, visionOnGpu: false, estimatedBytes: 0, summary };
  }
  const plan = planGpuLayers(footprint, nCtx, gpu.memoryBytes);
  const where = `${gpu.name} (${gpu.backend}, ${formatBytes(gpu.memoryBytes)})`;
  const summary =
    plan.fit === 'full'
      ? `Fits on ${where}`
      : plan.fit === 'partial'
        ? `Partly on ${where}: ${plan.nGpuLayers} of ${totalLayers} layers on the GPU, the rest on the CPU`
        : `Runs on the CPU: ${where} is too small for a ${nCtx}-token context`;
  return {
    ...base,
    fit: plan.fit,
    gpuLayers: Math.min(plan.nGpuLayers, totalLayers),
    visionOnGpu: plan.visionOnGpu,
    estimatedBytes: plan.estimatedBytes,
    summary: approximate ? `${summary} (estimate)` : summary,
  };
}
