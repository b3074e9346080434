#!/usr/bin/env python3
"""Makes LoRA adapters with PEFT on the tiny fixture models, with non-zero B (a freshly initialised
adapter has B = 0 and changes nothing), plus the outputs PEFT computes with them, for
test/lora_peft.test.ts.

    python3 scripts/make_peft_fixture.py [out_dir]      (default test/fixtures/lora)

Each <out_dir>/<name>/ gets adapter_config.json and adapter_model.safetensors as PEFT writes them
(save_pretrained), and expected.json:
  base          the base model directory, relative to the repository root
  sequences     token ids
  last_logits   float32 logits at the last position of each sequence (PeftModel, eval mode)
  logprob_sums  sum over t >= 1 of log p(token t | tokens < t), per sequence

  tiny-chat  Llama, target_modules="all-linear", r 4, alpha 8
  phi3       Phi-3 fused qkv_proj / gate_up_proj (ordinary linear modules to PEFT), rsLoRA, r 2, alpha 4
  gpt2       GPT-2 Conv1D (fan_in_fan_out), all-linear, r 4, alpha 16

Dev tool only (needs torch, transformers and peft); the package never runs Python.
"""
import json
import os
import sys

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "test", "fixtures", "models")


def fixtures():
    return {
        "tiny-chat": dict(r=4, lora_alpha=8, target_modules="all-linear"),
        "phi3": dict(r=2, lora_alpha=4, target_modules=["qkv_proj", "gate_up_proj", "o_proj", "down_proj"], use_rslora=True),
        "gpt2": dict(r=4, lora_alpha=16, target_modules="all-linear", fan_in_fan_out=True),
    }


def scores(model, sequences):
    last, sums = [], []
    with torch.no_grad():
        for seq in sequences:
            ids = torch.tensor([seq])
            logits = model(input_ids=ids).logits[0].float()
            last.append(logits[-1].tolist())
            logp = torch.log_softmax(logits[:-1], dim=-1).gather(1, ids[0, 1:].unsqueeze(1)).sum()
            sums.append(float(logp))
    return last, sums


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test", "fixtures", "lora")
    for name, settings in fixtures().items():
        torch.manual_seed(1234)
        base_dir = os.path.join(MODELS, name)
        base = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32)
        model = get_peft_model(base, LoraConfig(task_type="CAUSAL_LM", lora_dropout=0.0, **settings))
        # Non-zero B, so that the adapter changes the outputs and the test can see it.
        for pname, p in model.named_parameters():
            if "lora_B" in pname:
                torch.nn.init.normal_(p, std=0.05)
        model.eval()
        vocab = base.config.vocab_size
        gen = torch.Generator().manual_seed(7)
        sequences = [torch.randint(3, vocab, (n,), generator=gen).tolist() for n in (5, 9, 12)]
        last, sums = scores(model, sequences)
        target = os.path.join(out_dir, name)
        model.peft_config["default"].base_model_name_or_path = os.path.relpath(base_dir, ROOT)
        model.save_pretrained(target)
        os.remove(os.path.join(target, "README.md"))  # PEFT's model-card template; nothing the tests read
        with open(os.path.join(target, "expected.json"), "w") as f:
            json.dump({"base": os.path.relpath(base_dir, ROOT), "sequences": sequences, "last_logits": last,
                       "logprob_sums": sums}, f)
        print(f"{target}: {sum(p.numel() for n, p in model.named_parameters() if 'lora_' in n)} adapter parameters")


if __name__ == "__main__":
    main()
