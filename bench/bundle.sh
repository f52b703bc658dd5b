#!/usr/bin/env bash
# Builds what the GPU machine needs to run the benchmark (it has no Node.js, npm or network):
#   dist-bench/{run,webgpu_check,webgpu_latency,webgpu_micro,qwen2_step,demo}.mjs  the bench, the Qwen2
#                GRPO step and the demo, bundled with their JavaScript dependencies
#   .gpu-bench/  node.xz and the Vulkan loader .debs (from ../shared/gpu/pack.sh's .gpu/), the native
#                `webgpu` package (linux-x64 only) and prelude.sh
# Run from the project root after `npm install` and `../shared/gpu/pack.sh` (for .gpu/node.xz and the
# .debs; its node_modules archive is not needed). On the GPU machine (device tool, carry
# [".gpu-bench", "dist-bench"]):
#   source .gpu-bench/prelude.sh && node dist-bench/webgpu_check.mjs && \
#     node dist-bench/run.mjs --backends webgpu --machine h100 --out $OUT
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
exclude=$(git rev-parse --git-path info/exclude) # .git is a file in a worktree
mkdir -p "$(dirname "$exclude")"
for p in /dist-bench/ /.gpu-bench/; do grep -qx "$p" "$exclude" 2>/dev/null || echo "$p" >> "$exclude"; done
rm -rf dist-bench
node_modules/.bin/esbuild bench/run.ts bench/webgpu_check.ts bench/webgpu_latency.ts bench/webgpu_micro.ts bench/qwen2_step.ts bench/webgpu_matmul.ts bench/grpo_step_paths.ts bench/webgpu_check_distill.ts \
  examples/demo.ts --bundle --minify --platform=node --external:canvas \
  --format=esm --target=node20 --outdir=dist-bench --out-extension:.js=.mjs --log-level=warning \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-backend-wasm \
  --banner:js="import {createRequire as __cr} from 'module'; const require = __cr(import.meta.url);"
mkdir -p .gpu-bench
cp .gpu/node.xz .gpu/*.deb .gpu-bench/
tar -cJf .gpu-bench/webgpu.tar.xz --exclude='node_modules/webgpu/dist/darwin-*' \
  --exclude='node_modules/webgpu/dist/win32-*' --exclude='node_modules/webgpu/dist/linux-arm64' node_modules/webgpu
cat > .gpu-bench/prelude.sh <<'PRELUDE'
# sourced on the GPU machine from the project root
for f in .gpu-bench/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export XDG_RUNTIME_DIR=/tmp
mkdir -p /tmp/gpu-node && xz -dc .gpu-bench/node.xz > /tmp/gpu-node/node && chmod +x /tmp/gpu-node/node
export PATH=/tmp/gpu-node:$PATH
[ -d node_modules/webgpu ] || tar -xJf .gpu-bench/webgpu.tar.xz
PRELUDE
du -sh dist-bench .gpu-bench
