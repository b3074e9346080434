#!/usr/bin/env python3
"""Checks that directories written by CausalLM.save load in Hugging Face transformers with the
same numbers.

    npx tsc -p . && python3 scripts/check_roundtrip_transformers.py [MODEL_DIR ...]

For each model directory (default: every test/fixtures/models/*), Node loads it with the native
core and saves it twice (float32 and bfloat16) into a temporary directory; transformers then
loads the original and both copies with AutoModelForCausalLM.from_pretrained and compares
logits on random tokens:
  float32 copy  vs original                          must be identical (max |diff| 0)
  bfloat16 copy vs original with weights rounded to bfloat16 (both run in float32): identical
Exit status 1 if any comparison differs. Dev tool only; needs torch and transformers.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import torch
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NODE_SAVE = """
const { CausalLM } = await import(process.argv[1]);
const [src, out32, out16] = process.argv.slice(2);
const m = await CausalLM.load(src);
await m.save(out32, { dtype: 'float32' });
await m.save(out16, { dtype: 'bfloat16' });
m.dispose();
"""


def logits(model, tokens):
    with torch.no_grad():
        return model(tokens).logits.float()


def check(src):
    with tempfile.TemporaryDirectory() as tmp:
        out32, out16 = os.path.join(tmp, "f32"), os.path.join(tmp, "bf16")
        subprocess.run(["node", "--input-type=module", "-e", NODE_SAVE, os.path.join(ROOT, "dist", "index.js"),
                        src, out32, out16], check=True)
        original = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).eval()
        saved32 = AutoModelForCausalLM.from_pretrained(out32, dtype=torch.float32).eval()
        saved16 = AutoModelForCausalLM.from_pretrained(out16, dtype=torch.float32).eval()
        with open(os.path.join(out16, "config.json")) as f:
            saved_dtype = json.load(f).get("dtype")
        rounded = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).eval()
        with torch.no_grad():
            for p in rounded.parameters():
                p.copy_(p.to(torch.bfloat16).float())
        g = torch.Generator().manual_seed(0)
        tokens = torch.randint(0, original.config.vocab_size, (2, 16), generator=g)
        ref = logits(original, tokens)
        d32 = float((logits(saved32, tokens) - ref).abs().max())
        d16 = float((logits(saved16, tokens) - logits(rounded, tokens)).abs().max())
        d16_vs_f32 = float((logits(saved16, tokens) - ref).abs().max())
        ok = d32 == 0 and d16 == 0 and saved_dtype == "bfloat16"
        print(f"{os.path.basename(src)}: float32 copy max|diff| {d32:.3g}; bfloat16 copy vs bf16-rounded original "
              f"{d16:.3g} (vs float32 original {d16_vs_f32:.3g}); config dtype {saved_dtype} -> {'OK' if ok else 'FAILED'}")
        return ok


def main():
    dirs = sys.argv[1:] or sorted(d for d in glob.glob(os.path.join(ROOT, "test", "fixtures", "models", "*")) if os.path.isdir(d))
    results = [check(os.path.abspath(d)) for d in dirs]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
