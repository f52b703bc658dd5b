#!/usr/bin/env bash
# One GPU-machine session (device tool; carry ["dist-bench", ".gpu-bench"], built here by bench/bundle.sh):
#   bash bench/gpu_session.sh check-qwen2     # self-check of fused vs composed, Qwen2-0.5B GRPO step vs PyTorch
#   bash bench/gpu_session.sh qwen2           # the Qwen2 step alone
#   bash bench/gpu_session.sh demo            # npm run demo -- --backend webgpu, timed
#   bash bench/gpu_session.sh smallops        # self-check, then the small ops (fused, composed, PyTorch) timed
#   bash bench/gpu_session.sh final3a|final3b # self-check + log-prob cases | matmul, Qwen2 step, latency
# Results go to $OUT.
set -uo pipefail
source .gpu-bench/prelude.sh
export PYTHONUNBUFFERED=1
case "${1:-}" in
  check-qwen2|qwen2)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
    if [ "$1" = check-qwen2 ]; then
      timeout 200 node dist-bench/bench/webgpu_check.mjs > "$OUT/webgpu_check.txt" 2>&1; echo "webgpu_check rc=$?"; tail -4 "$OUT/webgpu_check.txt"
    fi
    python3 bench/qwen2_step_torch.py --make /tmp/q05 > "$OUT/qwen2_make.txt" 2>&1 || tail -5 "$OUT/qwen2_make.txt"
    for b in 4 2; do
      timeout 100 python3 bench/qwen2_step_torch.py --dir /tmp/q05 --batch $b --out "$OUT/qwen2_torch_b$b.json" > "$OUT/qwen2_torch_b$b.txt" 2>&1
      tail -1 "$OUT/qwen2_torch_b$b.txt" | cut -c1-300
      if timeout 150 node dist-bench/bench/qwen2_step.mjs --dir /tmp/q05 --backend webgpu --batch $b \
          --torch-json "$OUT/qwen2_torch_b$b.json" --out "$OUT/qwen2_webgpu_b$b.json" > "$OUT/qwen2_webgpu_b$b.txt" 2>&1; then
        tail -1 "$OUT/qwen2_webgpu_b$b.txt" | cut -c1-400; break
      else
        echo "webgpu qwen2 step failed at batch $b:"; tail -5 "$OUT/qwen2_webgpu_b$b.txt"
      fi
    done
    ;;
  profile)
    python3 bench/qwen2_step_torch.py --make /tmp/q05 > "$OUT/qwen2_make.txt" 2>&1 || tail -5 "$OUT/qwen2_make.txt"
    timeout 100 python3 bench/qwen2_step_torch.py --dir /tmp/q05 --batch 4 --out "$OUT/qwen2_torch_b4.json" > "$OUT/qwen2_torch_b4.txt" 2>&1; tail -1 "$OUT/qwen2_torch_b4.txt" | cut -c1-300
    BENCH_DAWN_OPTIONS=enable-dawn-features=allow_unsafe_apis timeout 240 node dist-bench/bench/qwen2_step.mjs --dir /tmp/q05 --backend webgpu \
      --batch 4 --steps 3 --warmup 1 --profile --torch-json "$OUT/qwen2_torch_b4.json" > "$OUT/qwen2_profile.txt" 2>&1
    echo "profile rc=$?"; grep -vE '^slow' "$OUT/qwen2_profile.txt" | tail -60 | cut -c1-200; grep -E '^slow' "$OUT/qwen2_profile.txt" | head -12 | cut -c1-200
    ;;
  final)
    # Everything of one session into $OUT/r/ and one archive: self-check, Qwen2 step (+ A/B, profile),
    # latency, log-prob micro bench, small ops. FINAL_AB="upload adam norms matmul": the step again with
    # each of those fast paths off; FINAL_LITE=1: no latency/micro/small ops; FINAL_DEMO=1: the webgpu demo.
    R="$OUT/r"; mkdir -p "$R"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$R/gpu.txt" 2>&1
    timeout 240 node dist-bench/bench/webgpu_check.mjs > "$R/webgpu_check.txt" 2>&1; echo "webgpu_check rc=$?"
    grep -E '^(FAIL|PASS)|checks:' "$R/webgpu_check.txt" | tail -12 | cut -c1-250
    python3 bench/qwen2_step_torch.py --make /tmp/q05 > "$R/qwen2_make.txt" 2>&1 || tail -5 "$R/qwen2_make.txt"
    timeout 100 python3 bench/qwen2_step_torch.py --dir /tmp/q05 --batch 4 --out "$R/qwen2_torch_b4.json" > "$R/qwen2_torch_b4.txt" 2>&1
    for v in "" ${FINAL_AB:-}; do
      tag=${v:-default}
      timeout 100 node dist-bench/bench/qwen2_step.mjs --dir /tmp/q05 --backend webgpu --batch 4 --steps 5 --warmup 2 \
        $( [ -z "$v" ] || echo "--$v off" ) --torch-json "$R/qwen2_torch_b4.json" --out "$R/qwen2_$tag.json" > "$R/qwen2_$tag.txt" 2>&1
      echo "qwen2 [$tag] rc=$? $(tr -d ' \n' < "$R/qwen2_$tag.json" 2>/dev/null | grep -oE '"(stepMsMedian|ratioVsTorch)":[0-9.]*' | tr '\n' ' ')"
    done
    timeout 100 node dist-bench/bench/qwen2_step.mjs --dir /tmp/q05 --backend webgpu --batch 4 --steps 2 --warmup 1 --profile > "$R/qwen2_profile.txt" 2>&1
    grep -E '^(phase|profile)' "$R/qwen2_profile.txt" | cut -c1-250
    timeout 200 node dist-bench/bench/webgpu_matmul.mjs --defaults > "$R/matmul.txt" 2>&1; echo "matmul rc=$?"
    grep -E '^(FAIL|PASS|TFLOP|step )' "$R/matmul.txt" | cut -c1-300
    timeout 200 node dist-bench/bench/grpo_step_paths.mjs --backend webgpu --steps 8 --out "$R/grpo_step_paths_webgpu.json" > "$R/grpo_step_paths.txt" 2>&1
    echo "grpo_step_paths rc=$?"; tail -2 "$R/grpo_step_paths.txt" | cut -c1-300
    if [ "${FINAL_LITE:-0}" != 1 ]; then
    timeout 120 node dist-bench/bench/webgpu_latency.mjs > "$R/latency.txt" 2>&1; echo "latency rc=$?"; grep -E 'ratio' "$R/latency.txt" | cut -c1-200
    timeout 150 node dist-bench/bench/webgpu_micro.mjs --torch > "$R/micro.txt" 2>&1; echo "micro rc=$?"; grep -iE 'grad\(sum|torch|ratio' "$R/micro.txt" | head -12 | cut -c1-200
    timeout 200 node dist-bench/bench/run.mjs --backends webgpu --machine h200 --out "$R" \
      --filter '^(clippedPolicyLoss|groupAdvantages|klPenalty|aggregateLoss|masked|whiten)' > "$R/smallops.txt" 2>&1; echo "smallops rc=$?"
    grep -E '\| webgpu' "$R/smallops.txt" | head -30 | cut -c1-160
    fi
    if [ "${FINAL_DEMO:-0}" = 1 ]; then
      start=$(date +%s)
      timeout 300 node dist-bench/examples/demo.mjs --backend webgpu --out /tmp/demo-webgpu --quiet > "$R/demo_webgpu.txt" 2>&1
      echo "demo rc=$? wall_s=$(( $(date +%s) - start ))" | tee -a "$R/demo_webgpu.txt"; tail -4 "$R/demo_webgpu.txt"
      cp /tmp/demo-webgpu/summary.json "$R/demo_webgpu_summary.json" 2>/dev/null
    fi
    tar -czf "$OUT/results.tar.gz" -C "$OUT" r && rm -rf "$R"
    ;;
  cpuprof)
    # V8 CPU profile of two Qwen2 steps; needs dist-bench/bench/qwen2_step_named.mjs (bundle.sh --named)
    [ -f /tmp/q05/config.json ] || python3 bench/qwen2_step_torch.py --make /tmp/q05 > "$OUT/qwen2_make.txt" 2>&1
    timeout 200 node dist-bench/bench/qwen2_step_named.mjs --dir /tmp/q05 --backend webgpu --batch 4 --steps 2 --warmup 1 \
      --cpu-prof "$OUT/cpu.cpuprofile" > "$OUT/qwen2_cpuprof.txt" 2>&1; echo "cpuprof rc=$?"; tail -3 "$OUT/qwen2_cpuprof.txt" | cut -c1-300
    python3 bench/cpuprof_summary.py "$OUT/cpu.cpuprofile" 60 > "$OUT/cpuprof_summary.txt"; head -130 "$OUT/cpuprof_summary.txt" | cut -c1-160
    xz -9 "$OUT/cpu.cpuprofile"
    ;;
  demo)
    start=$(date +%s)
    timeout "${DEMO_TIMEOUT:-500}" node dist-bench/examples/demo.mjs --backend webgpu --out /tmp/demo-webgpu --quiet > "$OUT/demo_webgpu.txt" 2>&1
    echo "demo rc=$? wall_s=$(( $(date +%s) - start ))" | tee -a "$OUT/demo_webgpu.txt"; tail -6 "$OUT/demo_webgpu.txt"
    cp /tmp/demo-webgpu/summary.json "$OUT/demo_webgpu_summary.json" 2>/dev/null
    cp /tmp/demo-webgpu/report.md "$OUT/demo_webgpu_report.md" 2>/dev/null
    ;;
  final-a)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
    timeout 150 node dist-bench/bench/webgpu_matmul.mjs > "$OUT/matmul.txt" 2>&1; echo "matmul rc=$?"; grep -E '^(FAIL|PASS|TFLOP|step)' "$OUT/matmul.txt" | cut -c1-400
    python3 bench/qwen2_step_torch.py --make /tmp/q05 > "$OUT/qwen2_make.txt" 2>&1 || tail -5 "$OUT/qwen2_make.txt"
    timeout 100 python3 bench/qwen2_step_torch.py --dir /tmp/q05 --batch 4 --out "$OUT/qwen2_torch_b4.json" > "$OUT/qwen2_torch_b4.txt" 2>&1; tail -1 "$OUT/qwen2_torch_b4.txt" | cut -c1-300
    for mm in on off; do
      timeout 120 node dist-bench/bench/qwen2_step.mjs --dir /tmp/q05 --backend webgpu --batch 4 --matmul $mm \
        --torch-json "$OUT/qwen2_torch_b4.json" --out "$OUT/qwen2_webgpu_b4_mm$mm.json" > "$OUT/qwen2_webgpu_b4_mm$mm.txt" 2>&1
      echo "qwen2 matmul=$mm rc=$?"; tail -2 "$OUT/qwen2_webgpu_b4_mm$mm.txt" | cut -c1-400
    done
    timeout 200 node dist-bench/bench/webgpu_check.mjs > "$OUT/webgpu_check.txt" 2>&1; echo "webgpu_check rc=$?"
    grep -E '^(FAIL|PASS)' "$OUT/webgpu_check.txt" | tail -8
    ;;
  final-b)
    timeout 100 node dist-bench/bench/webgpu_matmul.mjs --quick --step-only > "$OUT/matmul_steps.txt" 2>&1; echo "matmul rc=$?"; grep -E '^(FAIL|PASS|step)' "$OUT/matmul_steps.txt" | cut -c1-200
    python3 bench/qwen2_step_torch.py --make /tmp/q05 > /dev/null 2>&1
    timeout 100 node dist-bench/bench/qwen2_step.mjs --dir /tmp/q05 --backend webgpu --batch 4 --steps 8 --out "$OUT/qwen2_on.json" > "$OUT/qwen2_on.txt" 2>&1; echo "qwen2 rc=$?"; tail -1 "$OUT/qwen2_on.txt" | cut -c1-300
    timeout 200 node dist-bench/bench/webgpu_micro.mjs --torch > "$OUT/micro.txt" 2>&1; echo "micro rc=$?"; tail -30 "$OUT/micro.txt" | cut -c1-220
    timeout 120 node dist-bench/bench/webgpu_latency.mjs > "$OUT/latency.txt" 2>&1; echo "latency rc=$?"; grep -E 'ratio|target' "$OUT/latency.txt" | cut -c1-250
    timeout 200 node dist-bench/bench/run.mjs --backends webgpu --machine h200 --out "$OUT" \
      --filter '^(clippedPolicyLoss|groupAdvantages|klPenalty|aggregateLoss|masked|whiten)' > "$OUT/smallops.txt" 2>&1; echo "smallops rc=$?"
    grep -vE '^\s*$' "$OUT/smallops.txt" | tail -40 | cut -c1-200
    ;;
  sweep)
    # Matmul tiles (and the transposed-copy path) at n = 1024..8192 and the step's plain products; grpoStep
    # composed vs fused loss on the demo; the latency bench; groupAdvantages. One archive: $OUT/results.tar.gz.
    R="$OUT/r"; mkdir -p "$R"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$R/gpu.txt" 2>&1
    timeout 300 node dist-bench/bench/webgpu_matmul.mjs --sweep-steps > "$R/matmul.txt" 2>&1; echo "matmul rc=$?"
    grep -E '^(FAIL|PASS|TFLOP|step|tiles)' "$R/matmul.txt" | cut -c1-600
    timeout 200 node dist-bench/bench/grpo_step_paths.mjs --backend webgpu --steps 8 --out "$R/grpo_step_paths_webgpu.json" > "$R/grpo_step_paths.txt" 2>&1
    echo "grpo_step_paths rc=$?"; tail -2 "$R/grpo_step_paths.txt" | cut -c1-300
    timeout 150 node dist-bench/bench/webgpu_latency.mjs > "$R/latency.txt" 2>&1; echo "latency rc=$?"; grep -E 'ratio' "$R/latency.txt" | cut -c1-200
    timeout 100 node dist-bench/bench/run.mjs --backends webgpu --machine h200 --out "$R" --filter '^groupAdvantages' > "$R/groupadv.txt" 2>&1
    echo "groupadv rc=$?"; grep -E '\| webgpu' "$R/groupadv.txt" | head -6 | cut -c1-200
    tar -czf "$OUT/results.tar.gz" -C "$OUT" r && rm -rf "$R"
    ;;
  final2)
    # The default matmul at n = 1024..8192 and the Qwen2 step with a longer warm-up (default, matmul off).
    R="$OUT/r"; mkdir -p "$R"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv > "$R/gpu.txt" 2>&1; lscpu | head -20 >> "$R/gpu.txt"
    timeout 200 node dist-bench/bench/webgpu_matmul.mjs --defaults > "$R/matmul.txt" 2>&1; echo "matmul rc=$?"
    grep -E '^(FAIL|PASS|TFLOP|step )' "$R/matmul.txt" | cut -c1-300
    python3 bench/qwen2_step_torch.py --make /tmp/q05 > "$R/qwen2_make.txt" 2>&1 || tail -5 "$R/qwen2_make.txt"
    timeout 100 python3 bench/qwen2_step_torch.py --dir /tmp/q05 --batch 4 --steps 10 --warmup 6 --out "$R/qwen2_torch_b4.json" > "$R/qwen2_torch_b4.txt" 2>&1
    for v in "" matmul; do
      tag=${v:-default}
      timeout 150 node dist-bench/bench/qwen2_step.mjs --dir /tmp/q05 --backend webgpu --batch 4 --steps 10 --warmup 6 \
        $( [ -z "$v" ] || echo "--$v off" ) --torch-json "$R/qwen2_torch_b4.json" --out "$R/qwen2_$tag.json" > "$R/qwen2_$tag.txt" 2>&1
      echo "qwen2 [$tag] rc=$? $(tr -d ' \n' < "$R/qwen2_$tag.json" 2>/dev/null | grep -oE '"(stepMsMedian|ratioVsTorch)":[0-9.]*' | tr '\n' ' ')"
    done
    if [ -f dist-bench/examples/demo.mjs ]; then
      start=$(date +%s)
      timeout 300 node dist-bench/examples/demo.mjs --backend webgpu --out /tmp/demo-webgpu --quiet > "$R/demo_webgpu.txt" 2>&1
      echo "demo rc=$? wall_s=$(( $(date +%s) - start ))" | tee -a "$R/demo_webgpu.txt"; tail -4 "$R/demo_webgpu.txt"
      cp /tmp/demo-webgpu/summary.json "$R/demo_webgpu_summary.json" 2>/dev/null
    fi
    tar -czf "$OUT/results.tar.gz" -C "$OUT" r && rm -rf "$R"
    ;;
  check-newcases)
    # The full self-check, then the newest bench cases beside PyTorch CUDA; one archive.
    R="$OUT/r"; mkdir -p "$R"
    timeout 300 node dist-bench/bench/webgpu_check.mjs > "$R/webgpu_check.txt" 2>&1; echo "webgpu_check rc=$?"
    grep -E '^(FAIL|PASS)|checks:' "$R/webgpu_check.txt" | tail -12 | cut -c1-250
    timeout 250 node dist-bench/bench/run.mjs --backends webgpu --machine h200 --out "$R" \
      --filter '^(sftLoss|distillationLoss|pairwiseRewardLoss)' > "$R/newcases.txt" 2>&1; echo "bench rc=$?"
    grep -E '^(case|[a-zA-Z].*\| webgpu)' "$R/newcases.txt" | cut -c1-200
    tar -czf "$OUT/results.tar.gz" -C "$OUT" r && rm -rf "$R"
    ;;
  distill)
    # The distillationLoss self-check alone and its bench case (needs dist-bench/bench/webgpu_check_distill.mjs).
    timeout 120 node dist-bench/bench/webgpu_check_distill.mjs > "$OUT/webgpu_check_distill.txt" 2>&1; echo "check rc=$?"
    grep -E '^(FAIL|PASS)' "$OUT/webgpu_check_distill.txt" | tail -6
    timeout 120 node dist-bench/bench/run.mjs --backends webgpu --machine h200 --out "$OUT" --filter '^distillationLoss' > "$OUT/distill_bench.txt" 2>&1
    echo "bench rc=$?"; grep -E '\| webgpu' "$OUT/distill_bench.txt" | cut -c1-200
    ;;
  newcases)
    # The bench cases added last: the R1 pipeline's losses and grpoLossWithStats, beside PyTorch CUDA.
    timeout 400 node dist-bench/bench/run.mjs --backends webgpu --machine h200 --out "$OUT" \
      --filter '^(sftLoss|distillationLoss|pairwiseRewardLoss|grpoLossWithStats)' > "$OUT/newcases.txt" 2>&1; echo "bench rc=$?"
    grep -E '^(case|[a-zA-Z].*\| webgpu)' "$OUT/newcases.txt" | cut -c1-200
    ;;
  smallops)
    timeout 300 node dist-bench/bench/webgpu_check.mjs > "$OUT/webgpu_check.txt" 2>&1; echo "webgpu_check rc=$?"
    grep -E '^(FAIL|PASS)' "$OUT/webgpu_check.txt" | tail -20
    timeout 280 node dist-bench/bench/run.mjs --backends webgpu --machine h200 --out "$OUT" \
      --filter '^(clippedPolicyLoss|groupAdvantages|klPenalty|aggregateLoss|masked|whiten)' > "$OUT/smallops_bench.txt" 2>&1
    echo "bench rc=$?"; grep -E '^(case|[a-zA-Z].*\| webgpu)' "$OUT/smallops_bench.txt"
    ;;
  final3a)
    # After a kernel change: the full self-check, then the log-prob and distillation cases beside PyTorch CUDA.
    R="$OUT/r"; mkdir -p "$R"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv > "$R/gpu.txt" 2>&1
    timeout 300 node dist-bench/bench/webgpu_check.mjs > "$R/webgpu_check.txt" 2>&1; echo "webgpu_check rc=$?"
    grep -E '^(FAIL|PASS)|checks:' "$R/webgpu_check.txt" | tail -14 | cut -c1-250
    timeout 250 node dist-bench/bench/run.mjs --backends webgpu --machine h200 --out "$R" \
      --filter '^(tokenLogProbs|entropyFromLogits|sftLoss|distillationLoss)' > "$R/logprob_cases.txt" 2>&1; echo "bench rc=$?"
    grep -E '^(case|[a-zA-Z].*\| webgpu)' "$R/logprob_cases.txt" | cut -c1-200
    tar -czf "$OUT/results.tar.gz" -C "$OUT" r && rm -rf "$R"
    ;;
  final3b)
    # The default matmul, the Qwen2 step (6 warm-up, 10 timed; PyTorch the same) and the per-step latency.
    R="$OUT/r"; mkdir -p "$R"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv > "$R/gpu.txt" 2>&1
    timeout 200 node dist-bench/bench/webgpu_matmul.mjs --defaults > "$R/matmul.txt" 2>&1; echo "matmul rc=$?"
    grep -E '^(FAIL|PASS|TFLOP|step )' "$R/matmul.txt" | cut -c1-300
    python3 bench/qwen2_step_torch.py --make /tmp/q05 > "$R/qwen2_make.txt" 2>&1 || tail -5 "$R/qwen2_make.txt"
    timeout 100 python3 bench/qwen2_step_torch.py --dir /tmp/q05 --batch 4 --steps 10 --warmup 6 --out "$R/qwen2_torch_b4.json" > "$R/qwen2_torch_b4.txt" 2>&1
    timeout 150 node dist-bench/bench/qwen2_step.mjs --dir /tmp/q05 --backend webgpu --batch 4 --steps 10 --warmup 6 \
      --torch-json "$R/qwen2_torch_b4.json" --out "$R/qwen2_default.json" > "$R/qwen2_default.txt" 2>&1
    echo "qwen2 rc=$? $(tr -d ' \n' < "$R/qwen2_default.json" 2>/dev/null | grep -oE '"(stepMsMedian|ratioVsTorch)":[0-9.]*' | tr '\n' ' ')"
    timeout 120 node dist-bench/bench/webgpu_latency.mjs > "$R/latency.txt" 2>&1; echo "latency rc=$?"; grep -E 'ratio' "$R/latency.txt" | cut -c1-200
    tar -czf "$OUT/results.tar.gz" -C "$OUT" r && rm -rf "$R"
    ;;
  *) echo "usage: gpu_session.sh check-qwen2|qwen2|profile|cpuprof|final|final2|final3a|final3b|sweep|demo|smallops|final-a|final-b"; exit 2 ;;
esac
