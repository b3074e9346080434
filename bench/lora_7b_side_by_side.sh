#!/usr/bin/env bash
# The 7B-shaped LoRA run of docs/benchmarks.md ("A 7B-shaped LoRA RDPO run …"), side by side with TRL + peft:
# DPO on both sides (TRL has no RDPO), one pair, batch 1, 2 optimizer steps, LoRA r 16 α 32 on all-linear,
# bf16 compute, gradient checkpointing, max length 512, each side in its own process under /usr/bin/time -v,
# ours first, then TRL. Prints load seconds, reference seconds, each step's seconds, trainable parameters and
# peak RSS of each side (also in OUT_DIR/summary.txt; the exact commands in OUT_DIR/commands.txt, our log and
# metrics in OUT_DIR/ours.log and OUT_DIR/ours/metrics.jsonl, TRL's JSON in OUT_DIR/trl.json, the /usr/bin/time -v
# reports in OUT_DIR/ours.time and OUT_DIR/trl.time).
#
# Load times are not alike: ours reads the weights in before its "LoRA r=…" log line; TRL's from_pretrained maps
# the safetensors lazily (load_s well under a second) and the pages fault in during the first forward, which is
# TRL's reference precompute. Compare load + reference.
#
#   bench/lora_7b_side_by_side.sh OUT_DIR
#
# Environment (defaults in brackets; paths relative to the repository root):
#   MODEL  the model directory [bench/.cache/mistral-7b-random]
#   DATA   the pairs; only the first row is used [bench/.cache/scaling-256.jsonl]
#   STEPS  optimizer steps [2]
#   RDPO_CLI  our CLI [bin/rdpo-native.js]     PYTHON  [python3]
#
# What makes the two runs train on the same thing:
#   - the data: OUT_DIR/one-pair.jsonl is the first row of DATA (prompt/chosen/rejected only, so no rationale row is
#     built or checked on our side); ours takes it with --limit 1 (a seeded subset of one pair of one is that pair),
#     TRL with --limit 1; both revisit it in step 2;
#   - the tokens: no chat template in the bench tokenizers, so both use TRL's plain convention (EOS appended to each
#     completion, tokenized as prompt + completion). Truncation rules differ (ours cuts the prompt to
#     --max-prompt-length first, keeping its end; TRL's collator cuts each sequence to --max-length keeping its
#     start), so the comparison is valid only when nothing is truncated: the summary checks TRL's sequence lengths
#     and our log's truncation warning, and says so;
#   - the reference: the base with the adapters off, computed once before training on both sides (ours always;
#     TRL with --precompute-ref); ours with --no-ref-cache, so it is computed, not read, and the weights are not
#     hashed for the cache key (TRL keeps no cache; a first cached run hashes 14 GB, ~25 s here, once per model);
#   - the weights: ours keeps the base in its checkpoint dtype (config.json); TRL gets --bf16-weights when that is
#     bfloat16, else loads float32. Adapters float32 on both, bf16 autocast on both (--dtype bfloat16);
#   - warm-up 0 and constant learning rate 5e-7, AdamW, grad clip 10 on both sides (the defaults of each, set here).
# Not matched: the side that runs second can find the model files still in the page cache, which shortens its
# load; DROP_CACHES=1 (root only) syncs and drops the page cache before each side.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR   (MODEL=… DATA=… STEPS=… in the environment)" >&2; exit 2; }
cd "$(dirname "$0")/.."
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
MODEL=${MODEL:-bench/.cache/mistral-7b-random}
DATA=${DATA:-bench/.cache/scaling-256.jsonl}
STEPS=${STEPS:-2}
RDPO_CLI=${RDPO_CLI:-bin/rdpo-native.js}
PYTHON=${PYTHON:-python3}
[ -f "$MODEL/config.json" ] || { echo "$MODEL/config.json not found: set MODEL to a model directory (bench/make_bench_model.py makes one)" >&2; exit 2; }
[ -f "$DATA" ] || { echo "$DATA not found: set DATA to a JSONL of {prompt, chosen, rejected} (bench/make_scaling_data.py makes one)" >&2; exit 2; }

"$PYTHON" - "$DATA" "$OUT/one-pair.jsonl" <<'EOF'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    row = json.loads(next(line for line in f if line.strip()))
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write(json.dumps({k: row[k] for k in ("prompt", "chosen", "rejected")}) + "\n")
EOF
BF16_WEIGHTS=$("$PYTHON" -c 'import json,sys; c=json.load(open(sys.argv[1])); print("--bf16-weights" if (c.get("dtype") or c.get("torch_dtype")) == "bfloat16" else "")' "$MODEL/config.json")

# Timestamps each line of our log (seconds since the start) so the load time can be read off it.
stamp() { local t0=$1 line; while IFS= read -r line; do
  printf '%s %s\n' "$(LC_ALL=C awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')" "$line"; done; }
drop_caches() { if [ "${DROP_CACHES:-0}" = 1 ]; then sync && echo 3 > /proc/sys/vm/drop_caches; fi; }

rm -rf "$OUT/ours" "$OUT/cache"
OURS=(node "$RDPO_CLI" train --model "$MODEL" --data "$OUT/one-pair.jsonl" --loss dpo --lora-r 16 --lora-alpha 32
  --gradient-checkpointing --dtype bfloat16 --batch-size 1 --limit 1 --max-length 512 --eval-size 0 --save-every 0
  --warmup-steps 0 --max-steps "$STEPS" --no-ref-cache --out "$OUT/ours")
TRL=("$PYTHON" bench/trl_peer.py --model "$MODEL" --data "$OUT/one-pair.jsonl" --limit 1 --lora-r 16 --lora-alpha 32
  --gradient-checkpointing --dtype bfloat16 $BF16_WEIGHTS --precompute-ref --batch-size 1 --max-length 512
  --warmup 0 --steps "$STEPS" --json)
printf '%s\n' "RDPO_CACHE_DIR=$OUT/cache /usr/bin/time -v ${OURS[*]}" "/usr/bin/time -v ${TRL[*]}" > "$OUT/commands.txt"

echo "== ours: ${OURS[*]}" >&2
drop_caches
t0=$EPOCHREALTIME
RDPO_CACHE_DIR="$OUT/cache" /usr/bin/time -v -o "$OUT/ours.time" "${OURS[@]}" 2>&1 | stamp "$t0" | tee "$OUT/ours.log" >&2
echo "== TRL: ${TRL[*]}" >&2
drop_caches
/usr/bin/time -v -o "$OUT/trl.time" "${TRL[@]}" > "$OUT/trl.json" 2> "$OUT/trl.log"

"$PYTHON" - "$OUT" <<'EOF' | tee "$OUT/summary.txt"
import json, os, re, sys
out = sys.argv[1]
def time_v(name):
    t = open(os.path.join(out, name)).read()
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", t).group(1)
    s = 0.0
    for part in wall.split(":"):
        s = s * 60 + float(part)
    return rss_kb / 1024 / 1024, s
log = open(os.path.join(out, "ours.log")).read()
lora = re.search(r"^([\d.]+) LoRA r=.* on (\d+) modules: (\d+) trainable parameters; base frozen in (\w+)", log, re.M)
ref = re.search(r"reference log-probs for \d+ pairs: ([\d.]+) s", log)
truncated = re.search(r"rows were truncated", log) is not None
rows = [json.loads(l) for l in open(os.path.join(out, "ours", "metrics.jsonl")) if l.strip()]
ours_steps = [(r["tokens"] + r.get("rationale_tokens", 0)) / r["tokens_per_sec"] for r in rows if not r.get("eval")]
trl = json.loads(open(os.path.join(out, "trl.json")).read().strip().splitlines()[-1])
ours_rss, ours_wall = time_v("ours.time")
trl_rss, trl_wall = time_v("trl.time")
fmt = lambda xs: " / ".join(f"{x:.1f}" for x in xs)
print(f"{'':34}{'ours (rdpo-native)':>22}{'TRL ' + trl['versions']['trl'] + ' + peft':>24}")
print(f"{'load s (ours: to the LoRA line)':34}{float(lora.group(1)):>22.1f}{trl['load_s']:>24.1f}")
print(f"{'reference log-probs s':34}{float(ref.group(1)):>22.1f}{trl['ref_precompute_total_s']:>24.1f}")
print(f"{'step s':34}{fmt(ours_steps):>22}{fmt(trl['all_step_s']):>24}")
print(f"{'tokens per step (non-pad)':34}{fmt([r['tokens'] for r in rows]):>22}{trl['tokens_per_step']:>24.0f}")
print(f"{'trainable parameters':34}{int(lora.group(3)):>22,}{trl['trainable_params']:>24,}")
print(f"{'adapted modules':34}{int(lora.group(2)):>22}{trl['lora']['adapted_modules']:>24}")
print(f"{'base / adapter dtype':34}{lora.group(4) + ' / float32':>22}{'/'.join(trl['frozen_dtypes']) + ' / ' + '/'.join(trl['adapter_dtypes']):>24}")
print(f"{'peak RSS GiB (/usr/bin/time -v)':34}{ours_rss:>22.2f}{trl_rss:>24.2f}")
print(f"{'wall s, whole process':34}{ours_wall:>22.0f}{trl_wall:>24.0f}")
ok = not truncated and trl["truncated_sequences"] == 0 and int(lora.group(3)) == trl["trainable_params"]
print("same tokens, nothing truncated, same trainable parameters: " + ("yes" if ok else
      f"NO (ours truncated: {truncated}; TRL sequences over max length: {trl['truncated_sequences']}; "
      f"trainable {lora.group(3)} vs {trl['trainable_params']})"))
EOF
