#!/usr/bin/env bash
# The training-throughput bench on one CUDA GPU (written for an H200; any sm_80+ card works):
#   1. builds the addon against a CUDA LibTorch (python3's torch when it is a CUDA build, or
#      RDPO_LIBTORCH=<unpacked CUDA libtorch or torch package dir>, or --torch-wheel FILE unpacked here);
#   1b. runs the CUDA tests (test/cuda.test.ts: CPU/GPU parity, and NCCL with one rank when the build
#      has NCCL; skip with --skip-tests), logging to $out/cuda-tests.log; a failure is reported at the
#      end and does not stop the bench;
#   2. makes a ~1.07B-parameter Llama-shaped model (bench/make_bench_model.py --preset llama-1b:
#      22 layers, hidden 2048, intermediate 5632, 32 heads, 4 KV heads, vocab 49152, tied);
#   3. samples HH-RLHF pairs for it (bench/make_bench_data.py);
#   4. full fine-tuning at 1B: runs `rdpo-native bench --device cuda --dtype bfloat16` (DPO, reference
#      model live, every weight trained) and prints
#      MFU counting 8·N FLOPs per trained token (6·N policy forward + backward, 2·N reference forward;
#      N = matmul parameters) over (a) a bf16 matmul peak measured on the spot and (b) the datasheet's
#      dense bf16 peak, --datasheet-tflops (989 for H100/H200 SXM);
#   5. LoRA at 7B shape (skip with --skip-lora): a Mistral-7B-shaped bf16 model (make_bench_model.py
#      --preset mistral-7b, 14 GB written), `rdpo-native train --device cuda --dtype bfloat16 --loss rdpo
#      --lora-r 16 --lora-alpha 32 --gradient-checkpointing` for --lora-steps steps on pairs with
#      rationales (bench/make_scaling_data.py), printing the logged tokens/s of the last step, its MFU
#      twice: as logged (the frozen base's tokens at 4·N: forward + input gradient, no weight gradient)
#      and at the 1B phase's 8·N per trained token (the same tokens, seconds and measured peak; it
#      overstates LoRA's work, but compares with full fine-tuning's figure), and the peak GPU memory
#      nvidia-smi saw. Written without a GPU to run it on: unverified.
#
# Needs: nvidia-smi, node ≥ 20 with this package's node_modules, cmake, a CUDA toolkit (nvcc, CUDA_HOME)
# matching the LibTorch, python3 with transformers + tokenizers (only to make the model and data; pass
# --model/--data to skip). Nothing is downloaded.
#
# Usage: bench/gpu_bench.sh [--model DIR] [--data FILE] [--tokenizer-dir DIR] [--batch-size 16]
#                           [--max-length 1024] [--warmup 3] [--steps 10] [--torch-wheel FILE]
#                           [--skip-build] [--skip-tests] [--datasheet-tflops 989] [--out DIR] [--skip-lora]
#                           [--lora-steps 6]
#
# On a machine without ../shared/data (the data) and $RDPO_TEST_GGUF (the SmolLM2 GGUF, for the tokenizer),
# prepare both here and carry the folder (a few MB; the 2 GB model is generated there):
#   python3 bench/make_bench_data.py --tokenizer bench/.cache/smollm2-135m-random \
#     --out bench/.cache/gpu-carry/pairs.jsonl --pairs 208 --target 300 --tolerance 150
#   cp bench/.cache/smollm2-135m-random/{tokenizer.json,tokenizer_config.json,chat_template.jinja} bench/.cache/gpu-carry/
#   there: bench/gpu_bench.sh --tokenizer-dir bench/.cache/gpu-carry --data bench/.cache/gpu-carry/pairs.jsonl
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
model="" data="" tokenizer_dir="" batch=16 max_length=1024 warmup=3 steps=10 wheel="" skip_build=0 datasheet=989 out="$root/bench/.cache/gpu" skip_lora=0 lora_steps=6 skip_tests=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --tokenizer-dir) tokenizer_dir="$2"; shift 2 ;;
    --batch-size) batch="$2"; shift 2 ;;
    --max-length) max_length="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --torch-wheel) wheel="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --skip-tests) skip_tests=1; shift ;;
    --datasheet-tflops) datasheet="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --skip-lora) skip_lora=1; shift ;;
    --lora-steps) lora_steps="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "gpu_bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
say() { printf '\n[gpu_bench] %s\n' "$*" >&2; }
die() { printf 'gpu_bench.sh: %s\n' "$*" >&2; exit 1; }
mkdir -p "$out"

command -v nvidia-smi >/dev/null || die "no nvidia-smi: this script needs a CUDA GPU"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2
command -v node >/dev/null || die "no node on PATH: install Node.js ≥ 20 (or put a carried node binary first on PATH)"
[[ -d node_modules/cmake-js ]] || die "node_modules/ is missing: run npm ci in $root first"

# 1. A CUDA LibTorch, then the build.
if [[ -n "$wheel" ]]; then
  [[ -f "$wheel" ]] || die "--torch-wheel $wheel: no such file"
  dest="$out/libtorch-$(basename "$wheel" .whl)"
  if [[ ! -f "$dest/torch/share/cmake/Torch/TorchConfig.cmake" ]]; then
    # METADATA pins the NCCL version torch was built with (cmake/find_nccl.cmake checks nccl.h against it).
    say "unpacking torch/ of $wheel into $dest"
    python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith(("torch/include/", "torch/lib/", "torch/share/")) or (n.startswith("torch-") and n.endswith(".dist-info/METADATA"))])' "$wheel" "$dest"
  fi
  export RDPO_LIBTORCH="$dest/torch"
fi
if [[ -z "${RDPO_LIBTORCH:-}" ]]; then
  python3 -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null \
    || die "python3's torch is not a CUDA build: set RDPO_LIBTORCH to a CUDA libtorch or pass --torch-wheel"
fi
export CUDA_HOME="${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")")}"
export PATH="$CUDA_HOME/bin:$PATH"
# Hopper's own instructions for any kernels LibTorch's CMake config compiles; the 1B bench runs LibTorch's kernels.
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
if [[ $skip_build -eq 0 ]]; then
  say "building against ${RDPO_LIBTORCH:-python3 torch} with CUDA_HOME=$CUDA_HOME"
  node scripts/install.mjs --force
  npx tsc -p .
fi
node bin/rdpo-native.js doctor
node -e "const r = require('./build/Release/rdpo_native.node').runtimeInfo(); if (!r.cudaAvailable) { console.error('the addon sees no CUDA device (built against a CPU LibTorch?)'); process.exit(1); }"

# 1b. The CUDA tests, NCCL with one rank among them (skipped there, with the reason, when not built).
tests_status="skipped (--skip-tests)"
if [[ $skip_tests -eq 0 ]]; then
  say "CUDA tests (test/cuda.test.ts) -> $out/cuda-tests.log"
  if npx ava --verbose test/cuda.test.ts > "$out/cuda-tests.log" 2>&1; then tests_status="passed"; else tests_status="FAILED (see $out/cuda-tests.log)"; fi
  grep -E "✔|✘|skip|NCCL" "$out/cuda-tests.log" >&2 || true
fi

# 2-3. Model and data.
if [[ -z "$model" ]]; then
  model="$out/llama-1b-random"
  [[ -f "$model/config.json" ]] || python3 bench/make_bench_model.py --out "$model" --preset llama-1b --dtype bfloat16 \
    ${tokenizer_dir:+--tokenizer-dir "$tokenizer_dir"}
fi
pairs=$(( (warmup + steps) * batch ))
if [[ -z "$data" ]]; then
  data="$out/hh-pairs-$pairs.jsonl"
  # Wider than the CPU bench's 262 ± 20 so that enough pairs qualify for large batches.
  [[ -f "$data" ]] || python3 bench/make_bench_data.py --tokenizer "$model" --out "$data" --pairs "$pairs" --target 300 --tolerance 150 --max-length "$max_length"
fi

# 4. The bench.
say "rdpo-native bench: cuda bfloat16, batch $batch pairs, $warmup warm-up + $steps timed steps"
node bin/rdpo-native.js bench --model "$model" --data "$data" --device cuda --dtype bfloat16 --loss dpo \
  --batch-size "$batch" --max-length "$max_length" --warmup "$warmup" --steps "$steps" --json | tee "$out/result.json"
node - "$out/result.json" "$datasheet" <<'JS'
const fs = require('node:fs');
const [file, datasheetTflops] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(file, 'utf8').trim().split('\n').pop());
// The result counts 6·N per trained token and 2·N per reference-forwarded token: 8·N per pair token for live-reference DPO.
const flops = 8 * r.matmul_params * r.tokens;
const achieved = flops / r.window_s;
console.log([
  `model            ${(r.matmul_params / 1e9).toFixed(3)}B matmul parameters, ${r.tokens_per_step.toFixed(0)} tokens/step (batch ${r.batch_size} pairs)`,
  `throughput       ${r.tokens_per_sec.toFixed(0)} tokens/s, median step ${(1000 * r.median_step_s).toFixed(1)} ms`,
  `achieved         ${(achieved / 1e12).toFixed(1)} TFLOP/s at 8·N FLOPs per trained token`,
  `MFU (measured)   ${(100 * achieved / r.matmul_peak_flops).toFixed(1)}% of the ${(r.matmul_peak_flops / 1e12).toFixed(0)} TFLOP/s bf16 matmul peak measured now`,
  `MFU (datasheet)  ${(100 * achieved / (Number(datasheetTflops) * 1e12)).toFixed(1)}% of ${datasheetTflops} TFLOP/s dense bf16`,
  `peak CUDA memory ${r.peak_cuda_mb === null ? '—' : `${(r.peak_cuda_mb / 1024).toFixed(1)} GiB`}, peak RSS ${(r.peak_rss_mb / 1024).toFixed(1)} GiB`,
].join('\n'));
JS

# 5. LoRA at 7B shape.
if [[ $skip_lora -eq 0 ]]; then
  big="$out/mistral-7b-random"
  # Its tokenizer must stay within the 32,000-token vocabulary, so it is trained here from ../shared/data
  # (not --tokenizer-dir, whose SmolLM2 vocabulary is 49,152); or make the directory beforehand and carry it.
  [[ -f "$big/model.safetensors.index.json" ]] || python3 bench/make_bench_model.py --out "$big" --preset mistral-7b --dtype bfloat16
  lora_data="$out/lora-pairs-1024.jsonl"
  [[ -f "$lora_data" ]] || python3 bench/make_scaling_data.py --tokenizer "$big" --out "$lora_data" --seq-len 1024 --pairs $(( 8 * lora_steps ))
  say "LoRA r16 RDPO on the 7B-shaped model: cuda bfloat16, batch 8 pairs, $lora_steps steps"
  rm -rf "$out/lora-run"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$out/lora-memory.csv" &
  smi=$!
  node bin/rdpo-native.js train --model "$big" --data "$lora_data" --device cuda --dtype bfloat16 --loss rdpo \
    --lora-r 16 --lora-alpha 32 --gradient-checkpointing --batch-size 8 --max-length 1024 --max-steps "$lora_steps" \
    --warmup-steps 0 --eval-size 0 --save-every 0 --out "$out/lora-run"
  kill "$smi" 2>/dev/null || true
  node - "$out/lora-run/metrics.jsonl" "$out/lora-memory.csv" <<'JS'
const fs = require('node:fs');
const [metrics, memory] = process.argv.slice(2);
const rows = fs.readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => !r.eval);
const last = rows[rows.length - 1];
const peakMiB = Math.max(...fs.readFileSync(memory, 'utf8').trim().split('\n').map(Number).filter(Number.isFinite));
// The trainer logs a LoRA step's MFU with the frozen base's tokens at 4·N (lib/model/flops.ts); the
// same tokens, seconds and peak at 8·N per trained token are twice that.
console.log([
  `LoRA 7B          ${last.tokens_per_sec.toFixed(0)} tokens/s (pairs + rationale rows), step ${last.step}`,
  `MFU (logged)     ${(100 * last.mfu).toFixed(1)}% of the measured bf16 matmul peak (frozen-base tokens at 4·N)`,
  `MFU (8·N)        ${(200 * last.mfu).toFixed(1)}% at 8·N FLOPs per trained token, as the 1B phase counts`,
  `peak GPU memory  ${(peakMiB / 1024).toFixed(1)} GiB (nvidia-smi, whole device)`,
].join('\n'));
JS
fi
say "CUDA tests: $tests_status"
