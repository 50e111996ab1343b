// llama.cpp reports GPUs as "Vulkan0" or "CUDA0"; the marketing name is only in its log lines.
// Parsed from the worker's output so the status bar can say "NVIDIA H100 80GB HBM3".
const PATTERNS: Array<{ prefix: string; re: RegExp }> = [
  // ggml_vulkan: 0 = NVIDIA H100 80GB HBM3 (NVIDIA) | uma: 0 | fp16: 1 ...
  { prefix: 'Vulkan', re: /ggml_vulkan: (\d+) = (.+?) \([^()]*\) \|/g },
  //   Device 0: NVIDIA GeForce RTX 4090, compute capability 8.9, VMM: yes
  { prefix: 'CUDA', re: /^\s*Device (\d+): (.+?), compute capability/gm },
];

export function parseDeviceNames(log: string): Map<string, string> {
  const names = new Map<string, string>();
  for (const { prefix, re } of PATTERNS) {
    for (const m of log.matchAll(re)) names.set(`${prefix}${m[1]}`, m[2]!.trim());
  }
  return names;
}
