// Human sizes, dates and model lines, shared by the backend's messages and the renderer.
import type { EngineDeviceInfo, EngineStatus } from './types';

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  // Bytes are whole (a rate like 682.21 B/s must not print its float).
  return `${i === 0 ? Math.round(v) : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** A transfer rate, "682 B/s" or "1.4 MB/s"; '' when not measured (0, negative, unknown). */
export function formatRate(bytesPerSecond: number | null | undefined): string {
  if (bytesPerSecond === null || bytesPerSecond === undefined || !Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Tokens per second, "12.3 tok/s"; '' when not measured (0 after an early Stop). */
export function formatTokenRate(tokensPerSecond: number | null | undefined): string {
  if (tokensPerSecond === null || tokensPerSecond === undefined || !Number.isFinite(tokensPerSecond) || tokensPerSecond <= 0) return '';
  return `${tokensPerSecond.toFixed(1)} tok/s`;
}

const MINUTE = 60_000;

/**
 * When something happened, as a person says it: "Just now", "5 min ago", "3 h ago" (today),
 * "Yesterday", then the date ("3 Dec", with the year when it is not this year's).
 */
export function formatRelativeDate(at: number, now: number = Date.now(), locale?: string): string {
  const ago = now - at;
  if (ago < MINUTE) return 'Just now';
  if (ago < 60 * MINUTE) return `${Math.floor(ago / MINUTE)} min ago`;
  const day = (t: number): number => new Date(t).setHours(0, 0, 0, 0);
  const days = Math.round((day(now) - day(at)) / (24 * 60 * MINUTE));
  if (days === 0) return `${Math.floor(ago / (60 * MINUTE))} h ago`;
  if (days === 1) return 'Yesterday';
  const sameYear = new Date(at).getFullYear() === new Date(now).getFullYear();
  return new Date(at).toLocaleDateString(locale, { day: 'numeric', month: 'short', ...(sameYear ? {} : { year: 'numeric' }) });
}

const BACKEND_NAMES: Record<string, string> = { cuda: 'CUDA', vulkan: 'Vulkan', metal: 'Metal' };

/** Where a loaded model runs: "CPU", "NVIDIA H100 (CUDA)", "… (CUDA), 22/40 layers" when only partly on the GPU. */
export function formatDevice(device: EngineDeviceInfo | null, gpuLayers: { offloaded: number; total: number } | null): string {
  if (!device || device.backend === 'cpu') return 'CPU';
  const partial = gpuLayers && gpuLayers.offloaded < gpuLayers.total ? `, ${gpuLayers.offloaded}/${gpuLayers.total} layers on GPU` : '';
  return `${device.name} (${BACKEND_NAMES[device.backend] ?? device.backend}${partial})`;
}

/** The local model that answers, for the chat: "FireLLaVA-13B · Q4_K_M · CPU"; null while none is ready. */
export function formatLoadedModel(status: EngineStatus | null): string | null {
  if (!status?.model || status.state !== 'ready') return null;
  return [status.model.name, status.model.quantization, formatDevice(status.device, status.gpuLayers)].filter(Boolean).join(' · ');
}
