#!/usr/bin/env python3
"""The peer of `rdpo-native bench`: TRL's DPOTrainer timed on the same model directory, data file and settings.

Run it in a fresh process (peak RSS is the process's own high-water mark). Prints one JSON object with `--json`.

Settings matched to `rdpo-native bench`:
  - policy and reference: two copies of --model loaded with AutoModelForCausalLM (the reference is a second copy;
    with --precompute-ref TRL computes the reference log-probs for the whole dataset before training instead);
  - float32: weights float32, bf16=False. bfloat16: TRL's usual mixed precision, float32 master weights with
    TrainingArguments bf16=True (CPU autocast to bfloat16); --bf16-weights loads the weights in bfloat16 instead;
  - per-device batch --batch-size pairs, gradient accumulation 1, no gradient checkpointing (DPOConfig's default is
    on: turned off here), loss sigmoid (DPO), beta --beta, AdamW with learning rate --lr, constant schedule,
    grad-norm clip 10, dropout off (TRL's default), 1 device, no logging/saving/evaluation, dataloader in-process;
  - max length --max-length per sequence (TRL 1.16 has no separate max prompt length; the bench's sequences are far
    shorter than either limit, so nothing is truncated on either side);
  - data: the first (warmup + steps) × batch-size rows of --data ({prompt, chosen, rejected} strings; TRL appends EOS
    to each completion), taken in file order (the sampler is sequential here, not shuffled), each exactly once.

Measurement conventions (the same as ours, lib/bench/):
  - step time: wall time between consecutive optimiser-step ends (TrainerCallback.on_step_end), so it covers
    batch fetching, collation, forward, backward, optimiser and the reference forward; the first --warmup steps are
    not timed. `median_step_s` is the median of the timed steps;
  - tokens: the non-pad tokens of the chosen and rejected sequences, prompt included — the sum of the attention mask
    of the batches TRL's collator yields to the timed steps;
  - reference work: with --precompute-ref the wall time of TRL's precompute pass is prorated to the timed steps'
    pairs (precompute seconds × timed pairs / precomputed pairs) and added to the timed window;
  - tokens_per_sec = timed tokens / (sum of timed step times + prorated reference time);
  - cpu_s: process CPU seconds (user + sys, all threads) over the same window, counted the same way;
    pair_tokens_per_cpu_sec = timed tokens / cpu_s is steadier than wall time on a shared machine;
  - FLOPs: 6·N per trained token (policy forward + backward) plus 2·N per token the reference forwards for those
    steps (timed or prorated), where N counts the parameters that take part in matmuls per token: every linear
    weight of the decoder layers plus the LM head (tied or not; the embedding lookup is not a matmul). Attention-score
    FLOPs (~O(seq²)) are left out, as in the usual 6N convention. mfu = FLOPs / time / peak;
  - hardware_mfu: the same FLOP convention over the rows the models compute (TRL pads each batch to its longest
    sequence; ours computes a shared prompt once), reported with `computed_tokens`;
  - peak: torch's achieved FLOP/s on square matmuls of the same dtype (--matmul-size, --matmul-iters), the best of 5
    trials, measured in this process after training, reported as `matmul_peak_flops`;
  - peak_rss_mb: resource.getrusage(RUSAGE_SELF).ru_maxrss (KiB on Linux) / 1024.

LoRA mode (--lora-r R; the peer of `rdpo-native train --lora-r R …`, e.g. the 7B-shaped run of docs/benchmarks.md;
bench/lora_7b_side_by_side.sh runs both sides):
  - one copy of --model is loaded (bf16 with --dtype bfloat16 --bf16-weights) and the LoraConfig (task_type CAUSAL_LM,
    r, lora_alpha, lora_dropout, target_modules) is passed to DPOTrainer as peft_config with ref_model=None. TRL 1.16
    (trl/trainer/dpo_trainer.py) then wraps the model with get_peft_model and keeps no reference model
    (`if is_peft_model(self.model) … self.ref_model = None`); its compute_ref_log_probs runs the policy inside
    use_adapter(model, None), i.e. peft's disable_adapter(): the reference is the base with the adapters disabled,
    as ours (lib/train/trainer.ts: the LoRA policy with adapters off). Passing an already wrapped PeftModel instead
    would make TRL add a second "ref" adapter copy, which ours does not have;
  - targets: "all-linear" is peft 0.21's shorthand (tuners_utils._maybe_include_all_linear_layers): every
    nn.Linear of the model except the output embedding (lm_head) — for Llama/Mistral the q/k/v/o and gate/up/down
    projections of every decoder layer, the same set as our all-linear (docs/lora.md). A comma list
    (q_proj,v_proj,…) is passed through as module-name suffixes, as ours takes it;
  - adapter dtype: get_peft_model's default autocast_adapter_dtype=True upcasts bf16/fp16 adapter weights to float32
    (peft cast_adapter_dtype; TRL passes False only under DeepSpeed ZeRO-3), so the adapters are float32 over a bf16
    base, as ours; `adapter_dtypes` in the JSON records what the trainable parameters ended up as;
  - compute: --dtype bfloat16 turns on TrainingArguments bf16 (CPU autocast) in LoRA mode even with --bf16-weights,
    because ours runs base and adapter matmuls under bf16 autocast with --dtype bfloat16 (docs/lora.md "Compute
    dtype"); float32 runs without autocast;
  - --gradient-checkpointing sets DPOConfig gradient_checkpointing=True (TRL then calls enable_input_require_grads()
    on the peft model so checkpointed layers see a grad-requiring input; the reference forward runs with
    checkpointing disabled, under no_grad);
  - --precompute-ref computes the reference log-probs of the whole (limited) dataset before training, as ours does;
    without it the adapters-off forward runs inside every step;
  - --limit N trains on the first N pairs of --data, cycled (TRL's Trainer runs further epochs to reach the step
    count), as `rdpo-native train --limit N --max-steps S` does on a one-pair file; --warmup 0 --steps 2 is a
    two-step run with both steps reported (`all_step_s`);
  - FLOPs/MFU are not reported in LoRA mode (the 6N convention above is for full fine-tuning; the matmul peak is not
    measured). The JSON adds trainable_params (A and B of every adapted layer: r × (in + out) each), lora settings,
    load_s (from_pretrained + tokenizer), trainer_init_s (wrapping, tokenisation and the reference precompute),
    ref_precompute_total_s, and the sequence lengths TRL trains on (truncated_sequences counts those over
    --max-length, which TRL's collator cuts, keeping their start).
"""
import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time


def cpu_seconds():
    """Process CPU seconds (user + sys, all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def matmul_params(cfg):
    """N of the FLOP convention above, from a Hugging Face Llama-style config.json."""
    h, inter, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", heads)
    hd = cfg.get("head_dim") or h // heads
    per_layer = h * heads * hd + 2 * h * kv * hd + heads * hd * h + 3 * h * inter
    return layers * per_layer + cfg["vocab_size"] * h


def measure_matmul_peak(torch, size, iters, dtype, trials=5):
    """Best of `trials` timings of `iters` square matmuls: the best is the machine's, the rest other load's."""
    a = torch.randn(size, size, dtype=dtype)
    b = torch.randn(size, size, dtype=dtype)
    c = torch.empty(size, size, dtype=dtype)
    best = 0.0
    with torch.no_grad():
        torch.mm(a, b, out=c)  # warm-up
        for _ in range(trials):
            t0 = time.perf_counter()
            for _ in range(iters):
                torch.mm(a, b, out=c)
            best = max(best, 2.0 * size**3 * iters / (time.perf_counter() - t0))
    return best


def read_rows(path, n, limit=0):
    """The first n pairs of path; with limit > 0 the first min(limit, n) pairs, which the Trainer cycles through."""
    if limit > 0:
        n = min(n, limit)
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            missing = [k for k in ("prompt", "chosen", "rejected") if not isinstance(row.get(k), str)]
            if missing:
                sys.exit(f"{path}:{line_no}: missing string field(s) {', '.join(missing)}")
            rows.append({k: row[k] for k in ("prompt", "chosen", "rejected")})
            if len(rows) == n:
                return rows
    if limit > 0 and rows:
        return rows  # fewer than --limit: cycle through what there is
    sys.exit(f"{path}: {len(rows)} pairs, need (warmup + steps) × batch-size = {n}; pass a larger file, fewer --steps or --limit")


def main():
    ap = argparse.ArgumentParser(description="TRL DPOTrainer throughput, the peer of `rdpo-native bench`")
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    ap.add_argument("--bf16-weights", action="store_true", help="load weights in bfloat16 instead of autocast")
    ap.add_argument("--batch-size", type=int, default=2, help="pairs per optimiser step")
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=5e-7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--precompute-ref", action="store_true", help="precompute_ref_log_probs=True")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--matmul-size", type=int, default=1024)
    ap.add_argument("--matmul-iters", type=int, default=5, help="matmuls per trial (best of 5 trials)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N pairs of --data, cycled (0: no limit)")
    ap.add_argument("--gradient-checkpointing", action="store_true", help="DPOConfig gradient_checkpointing=True")
    ap.add_argument("--lora-r", type=int, default=0, help="train LoRA adapters of rank R on the frozen base (peft)")
    ap.add_argument("--lora-alpha", type=float, default=None, help="LoRA alpha (default: R)")
    ap.add_argument("--lora-dropout", type=float, default=0.0)
    ap.add_argument("--lora-targets", default="all-linear",
                    help="all-linear (every linear layer but the LM head) | q_proj,k_proj,…")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.batch_size < 1 or args.limit < 0 or args.lora_r < 0:
        sys.exit("--steps must be ≥ 1, --warmup ≥ 0, --batch-size ≥ 1, --limit ≥ 0 and --lora-r ≥ 0")
    lora = args.lora_r > 0
    if not lora and (args.lora_alpha is not None or args.lora_dropout or args.lora_targets != "all-linear"):
        sys.exit("--lora-alpha/--lora-dropout/--lora-targets need --lora-r R (> 0)")

    # Keep datasets' cache (precomputed reference log-probs are cached by fingerprint) out of the user's cache.
    work = tempfile.mkdtemp(prefix="trl-peer-")
    os.environ["HF_DATASETS_CACHE"] = os.path.join(work, "datasets")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

    import torch
    import transformers
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    with open(os.path.join(args.model, "config.json"), encoding="utf-8") as f:
        n_matmul = matmul_params(json.load(f))
    total_steps = args.warmup + args.steps
    dataset = Dataset.from_list(read_rows(args.data, total_steps * args.batch_size, args.limit))

    weights_dtype = torch.bfloat16 if (args.dtype == "bfloat16" and args.bf16_weights) else torch.float32
    load = lambda: AutoModelForCausalLM.from_pretrained(args.model, dtype=weights_dtype)
    t_load = time.perf_counter()
    # LoRA: the base with its adapters disabled is the reference (see the docstring), so one copy only.
    model, ref_model = (load(), None) if lora else (load(), load())
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    load_s = time.perf_counter() - t_load
    rss_after_load_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peft_config = None
    if lora:
        from peft import LoraConfig

        targets = args.lora_targets if args.lora_targets == "all-linear" else [t.strip() for t in args.lora_targets.split(",") if t.strip()]
        peft_config = LoraConfig(task_type="CAUSAL_LM", r=args.lora_r,
                                 lora_alpha=args.lora_alpha if args.lora_alpha is not None else args.lora_r,
                                 lora_dropout=args.lora_dropout, target_modules=targets, bias="none")

    config = DPOConfig(
        output_dir=os.path.join(work, "out"),
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=1,
        max_steps=total_steps,
        learning_rate=args.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        max_grad_norm=10.0,
        beta=args.beta,
        loss_type=["sigmoid"],
        max_length=args.max_length,
        gradient_checkpointing=args.gradient_checkpointing,
        # LoRA: autocast as ours even over a bf16 base (the float32 adapters' matmuls run in bf16 too).
        bf16=args.dtype == "bfloat16" and (lora or not args.bf16_weights),
        fp16=False,
        precompute_ref_log_probs=args.precompute_ref,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        logging_strategy="no",
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        disable_tqdm=True,
        seed=args.seed,
    )

    step_ends, step_cpu_ends, step_tokens, step_rows = [], [], [], []
    precompute = {"seconds": 0.0, "cpu_seconds": 0.0, "pairs": 0}

    class StepClock(TrainerCallback):
        def on_train_begin(self, *_, **__):
            step_ends.append(time.perf_counter())  # start of step 1
            step_cpu_ends.append(cpu_seconds())

        def on_step_end(self, *_, **__):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            step_ends.append(time.perf_counter())
            step_cpu_ends.append(cpu_seconds())

    class TimedDPOTrainer(DPOTrainer):
        def training_step(self, model, inputs, *rest, **kw):
            step_tokens.append(int(inputs["attention_mask"].sum()))
            step_rows.append(int(inputs["input_ids"].numel()))  # padded rows the models compute
            return super().training_step(model, inputs, *rest, **kw)

        def _get_train_sampler(self, train_dataset=None):
            # In file order, as ours takes them: the same pairs land in the same steps on both sides.
            return torch.utils.data.SequentialSampler(train_dataset if train_dataset is not None else self.train_dataset)

        def _precompute_ref_logps(self, dataset, name, batch_size):
            t0, c0 = time.perf_counter(), cpu_seconds()
            out = super()._precompute_ref_logps(dataset, name, batch_size)
            precompute["seconds"] += time.perf_counter() - t0
            precompute["cpu_seconds"] += cpu_seconds() - c0
            precompute["pairs"] += len(dataset)
            return out

    t_init = time.perf_counter()
    trainer = TimedDPOTrainer(model=model, ref_model=ref_model, args=config, train_dataset=dataset,
                              processing_class=tokenizer, callbacks=[StepClock()], peft_config=peft_config)
    trainer_init_s = time.perf_counter() - t_init
    trainable = [p for p in trainer.model.parameters() if p.requires_grad]
    trainable_params = sum(p.numel() for p in trainable)
    adapter_dtypes = sorted({str(p.dtype).replace("torch.", "") for p in trainable})
    # Adapted layers, as ours counts them ("on N modules"): every module holding a LoRA A.
    adapted = [name for name, m in trainer.model.named_modules() if hasattr(m, "lora_A") and len(m.lora_A) > 0]
    adapted_suffixes = sorted({name.rsplit(".", 1)[-1] for name in adapted})
    frozen_dtypes = sorted({str(p.dtype).replace("torch.", "") for p in trainer.model.parameters() if not p.requires_grad})
    if lora and trainer.ref_model is not None:
        sys.exit("internal: TRL kept a reference model in LoRA mode; the reference should be the base with adapters off")
    seq_lens, pair_tokens = [], []
    for ex in trainer.train_dataset:
        p, c, r = len(ex["prompt_ids"]), len(ex["chosen_ids"]), len(ex["rejected_ids"])
        seq_lens += [p + c, p + r]
        pair_tokens.append(p + c + r)  # prompt once, as ours packs it
    truncated_sequences = sum(1 for n in seq_lens if n > args.max_length)
    try:
        # The Trainer prints its summary dict to stdout; keep stdout for the one result line.
        with contextlib.redirect_stdout(sys.stderr):
            trainer.train()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    step_s = [b - a for a, b in zip(step_ends, step_ends[1:])]
    if len(step_s) != total_steps or len(step_tokens) != total_steps:
        sys.exit(f"internal: saw {len(step_s)} step ends and {len(step_tokens)} batches for {total_steps} steps")
    timed_s, timed_tokens = step_s[args.warmup:], sum(step_tokens[args.warmup:])
    # At most the whole pass: with --limit the timed steps can revisit pairs whose reference was computed once.
    share = min(1.0, (args.steps * args.batch_size) / precompute["pairs"]) if precompute["pairs"] else 0.0
    ref_s = precompute["seconds"] * share
    window_s = sum(timed_s) + ref_s
    step_cpu_s = [b - a for a, b in zip(step_cpu_ends, step_cpu_ends[1:])]
    cpu_s = sum(step_cpu_s[args.warmup:]) + precompute["cpu_seconds"] * share
    flops = 6 * n_matmul * timed_tokens + 2 * n_matmul * timed_tokens  # policy fwd+bwd, reference fwd (live or prorated)
    timed_rows = sum(step_rows[args.warmup:])
    hw_flops = 8 * n_matmul * timed_rows  # the same over the padded rows both models compute
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the matmul-peak probe
    peak_dtype = torch.bfloat16 if args.dtype == "bfloat16" else torch.float32
    peak = None if lora else measure_matmul_peak(torch, args.matmul_size, args.matmul_iters, peak_dtype)
    result = {
        "impl": "trl",
        "loss": "dpo",
        "dtype": args.dtype,
        "precision": (("bf16 base" if args.bf16_weights else "float32 base") + f", {'+'.join(adapter_dtypes)} adapters"
                      + (", bf16 autocast" if config.bf16 else "")) if lora else
                     ("bf16 weights" if args.bf16_weights else ("autocast bf16, fp32 master weights" if args.dtype == "bfloat16" else "float32")),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "warmup_steps": args.warmup,
        "steps": args.steps,
        "precompute_ref": args.precompute_ref,
        "tokens_per_step": timed_tokens / args.steps,
        "tokens": timed_tokens,
        "rationale_tokens": 0,
        "median_step_s": statistics.median(timed_s),
        "step_s": timed_s,
        "ref_precompute_s": ref_s,
        "window_s": window_s,
        "cpu_s": cpu_s,
        "tokens_per_sec": timed_tokens / window_s,
        "pair_tokens_per_sec": timed_tokens / window_s,
        "pair_tokens_per_cpu_sec": timed_tokens / cpu_s,
        "matmul_params": n_matmul,
        "flops": None if lora else flops,
        "matmul_peak_flops": peak,
        "mfu": None if lora else flops / window_s / peak,
        "computed_tokens": {"policy": timed_rows, "reference": timed_rows},
        "hardware_mfu": None if lora else hw_flops / window_s / peak,
        "peak_rss_mb": peak_rss_mb,
        "rss_after_load_mb": rss_after_load_mb,
        "load_s": load_s,
        "trainer_init_s": trainer_init_s,
        "ref_precompute_total_s": precompute["seconds"],
        "all_step_s": step_s,
        "gradient_checkpointing": args.gradient_checkpointing,
        "lora": ({"r": args.lora_r, "alpha": peft_config.lora_alpha, "dropout": args.lora_dropout,
                  "targets": args.lora_targets, "adapted_modules": len(adapted), "adapted_names": adapted_suffixes}
                 if lora else None),
        "trainable_params": trainable_params,
        "adapter_dtypes": adapter_dtypes if lora else None,
        "frozen_dtypes": frozen_dtypes,
        "limit": args.limit,
        "max_length": args.max_length,
        "pairs": len(pair_tokens),
        "pair_tokens": pair_tokens,
        "sequence_lengths": seq_lens,
        "truncated_sequences": truncated_sequences,
        "peak_cuda_mb": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
                     "python": sys.version.split()[0]},
        "optimizer": str(config.optim),
        "load_avg_1m": os.getloadavg()[0],  # the machine is shared: a high load slows both sides alike
    }
    if args.json:
        print(json.dumps(result))
    elif lora:
        print(f"TRL DPOTrainer + peft LoRA r{args.lora_r} {result['precision']}: {trainable_params:,} trainable parameters; "
              f"load {load_s:.1f} s, reference {precompute['seconds']:.1f} s, steps "
              + " / ".join(f"{x:.2f}" for x in step_s) + f" s; peak RSS {peak_rss_mb:.0f} MB")
    else:
        print(f"TRL DPOTrainer {args.dtype}: {result['tokens_per_sec']:.1f} tokens/s, median step {result['median_step_s']:.3f} s, "
              f"{result['tokens_per_step']:.0f} tokens/step, MFU {100 * result['mfu']:.1f}% of {peak / 1e9:.1f} GFLOP/s, "
              f"peak RSS {result['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
