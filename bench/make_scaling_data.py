#!/usr/bin/env python3
"""Writes preference pairs of a chosen sequence length for `node bench/run.mjs --scaling`.

Every sequence of a pair (prompt + completion + EOS, as TRL's collator counts it) is about --seq-len tokens of the
bench model's tokenizer: the prompt is the first half, cut from consecutive HH-RLHF harmless-base transcripts
(shared/data/hh-rlhf-harmless-base-test.jsonl.gz); chosen and rejected are each cut from further, different text to
fill the rest. Cutting is done on token ids and decoded back, so lengths can differ from --seq-len by a token or two
after re-tokenisation; the script prints the measured mean. Deterministic (file order, no randomness). Each row also
carries a `rationale` (the same HH text) so --loss rdpo can run.

Usage: python bench/make_scaling_data.py --tokenizer MODEL_DIR --out FILE.jsonl --seq-len 1024 [--pairs 112]
Dev tool only.
"""
import argparse
import gzip
import json
import os
import statistics

SHARED_DATA = os.environ.get("RDPO_SHARED_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
DEFAULT_SOURCE = os.path.join(SHARED_DATA, "hh-rlhf-harmless-base-test.jsonl.gz")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", required=True, help="model directory holding tokenizer.json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seq-len", type=int, required=True, help="tokens per sequence (prompt + completion + EOS)")
    ap.add_argument("--pairs", type=int, default=112)
    ap.add_argument("--source", default=DEFAULT_SOURCE)
    args = ap.parse_args()
    if args.seq_len < 16:
        raise SystemExit("--seq-len must be at least 16")
    if not os.path.isfile(args.source):
        raise SystemExit(f"--source {args.source}: no such file (set RDPO_SHARED_DATA to the shared data directory)")

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    if tok.eos_token is None:
        raise SystemExit(f"{args.tokenizer}: the tokenizer has no EOS token")
    prompt_len = args.seq_len // 2
    completion_len = args.seq_len - prompt_len - 1  # EOS
    need = args.pairs * (prompt_len + 2 * completion_len)

    ids = []
    with gzip.open(args.source, "rt", encoding="utf-8") as f:
        for line in f:
            ids.extend(tok(json.loads(line)["chosen"], add_special_tokens=False)["input_ids"])
            if len(ids) >= need:
                break
    if len(ids) < need:
        raise SystemExit(f"{args.source}: only {len(ids)} tokens of text, need {need}; ask fewer --pairs")

    rows, sizes, pos = [], [], 0

    def take(n):
        nonlocal pos
        text = tok.decode(ids[pos:pos + n])
        pos += n
        return text

    for _ in range(args.pairs):
        prompt = take(prompt_len)
        chosen, rejected = take(completion_len), take(completion_len)
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected, "rationale": chosen[:400]})
        sizes.append(len(tok(prompt + chosen + tok.eos_token, add_special_tokens=True)["input_ids"]))
    with open(args.out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(json.dumps({"out": args.out, "pairs": len(rows), "seq_len": args.seq_len,
                      "mean_chosen_seq_tokens": statistics.mean(sizes), "max": max(sizes)}))


if __name__ == "__main__":
    main()
