#!/usr/bin/env bash
# Packs what the GPU machine needs into .gpu/ (it has no npm and no internet): a Node binary, the
# engine's JS and its Linux x64 CPU and Vulkan builds, and the other native modules the backend loads (sharp, better-sqlite3). The CUDA build (200 MB, CUDA 12 runtime
# not bundled) does not fit the 64 MiB transfer limit. Run `npm run build:node -- --bench` first.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu
[ -f .gpu/node.xz ] || xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > .gpu/node.xz
[ -f .gpu/vulkan.node.xz ] || xz -T2 -6 -c node_modules/@fugood/node-llama-linux-x64-vulkan/index.node > .gpu/vulkan.node.xz
tar -C node_modules -cJf .gpu/node_modules.tar.xz \
  @fugood/llama.node/package.json @fugood/llama.node/lib \
  @fugood/node-llama-linux-x64 \
  @fugood/node-llama-linux-x64-vulkan/package.json \
  sharp @img/colour @img/sharp-linux-x64 @img/sharp-libvips-linux-x64 detect-libc semver \
  better-sqlite3/package.json better-sqlite3/lib better-sqlite3/build/Release/better_sqlite3.node bindings file-uri-to-path
du -sh .gpu/* dist
