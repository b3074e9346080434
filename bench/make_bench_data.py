#!/usr/bin/env python3
"""Writes the preference pairs both sides of the bench train on, as plain {prompt, chosen, rejected} JSONL.

Source: Anthropic HH-RLHF harmless-base test (shared/data/hh-rlhf-harmless-base-test.jsonl.gz). Each row's prompt is
the dialogue up to and including the last "\\n\\nAssistant:" (shared by chosen and rejected); chosen and rejected are
what follows it. Rows whose two transcripts do not share that prefix, or whose completions are empty or equal, are
skipped.

Sampling: rows are taken in file order, keeping those whose pair size — the non-pad tokens TRL's collator yields for
the pair, len(prompt + chosen + EOS) + len(prompt + rejected + EOS) with the bench model's tokenizer, capped at
--max-length per sequence — lies within --target ± --tolerance tokens. With the defaults (262 ± 20) a batch of 2 pairs
is ≈ 525 tokens, the load the issue's targets were measured at. Deterministic: no randomness, no shuffling.

Each row also carries a `rationale` for `--loss rdpo`: HH-RLHF has none, so the i-th row gets the i-th one-line judge
reason of PandaLM's gpt-3.5-turbo file (shared/data/pandalm-gpt-3.5-turbo-testset-v1.json, ~120 characters). It is
real rationale text but unrelated to the pair: it serves throughput only, where its length is what counts. TRL's
peer ignores the field.

Usage: python bench/make_bench_data.py --tokenizer MODEL_DIR --out FILE.jsonl [--pairs 64] [--target 262]
                                       [--tolerance 20] [--max-length 1024]
"""
import argparse
import gzip
import json
import os
import statistics

MARK = "\n\nAssistant:"
SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
DEFAULT_SOURCE = os.path.join(SHARED_DATA, "hh-rlhf-harmless-base-test.jsonl.gz")
DEFAULT_RATIONALES = os.path.join(SHARED_DATA, "pandalm-gpt-3.5-turbo-testset-v1.json")


def split_pair(row):
    cut_c, cut_r = row["chosen"].rfind(MARK), row["rejected"].rfind(MARK)
    if cut_c < 0 or cut_r < 0:
        return None
    prompt = row["chosen"][: cut_c + len(MARK)]
    if row["rejected"][: cut_r + len(MARK)] != prompt:
        return None
    chosen, rejected = row["chosen"][len(prompt):], row["rejected"][len(prompt):]
    if not chosen.strip() or not rejected.strip() or chosen == rejected:
        return None
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", required=True, help="model directory holding tokenizer.json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--source", default=DEFAULT_SOURCE)
    ap.add_argument("--rationales", default=DEFAULT_RATIONALES, help="PandaLM judge file whose gpt_reason fills `rationale`")
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--target", type=int, default=262, help="tokens per pair (chosen + rejected sequences)")
    ap.add_argument("--tolerance", type=int, default=20)
    ap.add_argument("--max-length", type=int, default=1024)
    args = ap.parse_args()

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    if tok.eos_token is None:
        raise SystemExit(f"{args.tokenizer}: the tokenizer has no EOS token; TRL appends one to each completion")

    def seq_len(text):
        return min(len(tok(text, add_special_tokens=True)["input_ids"]), args.max_length)

    picked, sizes = [], []
    with gzip.open(args.source, "rt", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            pair = split_pair(json.loads(line))
            if pair is None:
                continue
            size = seq_len(pair["prompt"] + pair["chosen"] + tok.eos_token) + seq_len(pair["prompt"] + pair["rejected"] + tok.eos_token)
            if abs(size - args.target) <= args.tolerance:
                picked.append(dict(pair, source_line=line_no))
                sizes.append(size)
                if len(picked) == args.pairs:
                    break
    if len(picked) < args.pairs:
        raise SystemExit(f"{args.source}: only {len(picked)} rows within {args.target}±{args.tolerance} tokens; "
                         f"widen --tolerance or ask fewer --pairs")
    with open(args.rationales, encoding="utf-8") as f:
        reasons = [r["gpt_reason"].strip() for r in json.load(f) if isinstance(r.get("gpt_reason"), str) and r["gpt_reason"].strip()]
    if not reasons:
        raise SystemExit(f"{args.rationales}: no gpt_reason texts")
    for i, row in enumerate(picked):
        row["rationale"] = reasons[i % len(reasons)]
    with open(args.out, "w", encoding="utf-8") as f:
        for row in picked:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(json.dumps({"out": args.out, "pairs": len(picked), "mean_pair_tokens": statistics.mean(sizes),
                      "min": min(sizes), "max": max(sizes), "last_source_line": picked[-1]["source_line"]}))


if __name__ == "__main__":
    main()
