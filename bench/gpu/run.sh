#!/usr/bin/env bash
# Runs on the GPU machine (device tool): unpacks .gpu/, checks the GPU is visible to the Vulkan
# build, then runs the bench on FireLLaVA-13B-shaped models with a few of its 40 layers.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/firellava-gpu}
mkdir -p "$OUT"
LAYERS=${LAYERS:-4,10}
exec > >(tee "$OUT/run.log") 2>&1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
ls /proc/driver/nvidia/version >/dev/null 2>&1 && echo "nvidia driver: yes"
ldconfig -p | grep -E "libcudart|libcublas" | head -4 || true
[ -n "${SKIP_GL:-}" ] || for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
command -v node >/dev/null || { xz -dc .gpu/node.xz > /usr/local/bin/node && chmod +x /usr/local/bin/node; }
node --version
mkdir -p node_modules
tar -C node_modules -xJf .gpu/node_modules.tar.xz
xz -dc .gpu/vulkan.node.xz > node_modules/@fugood/node-llama-linux-x64-vulkan/index.node
node -e "require('@fugood/llama.node').getBackendDevicesInfo('vulkan').then(d => console.log('devices', JSON.stringify(d)))" 2>&1 | grep -v '^\[' | tail -3
node dist/bench/bench.cjs --gpu-layers "$LAYERS" --rounds 3 --json "$OUT/gpu-bench.json" --cache /tmp/firellava-bench > "$OUT/bench-full.log" 2>&1
echo "bench exit $?"
grep -E "^\||bench:|Error|error" "$OUT/bench-full.log" | grep -v "^\[" | tail -30
