#!/usr/bin/env python3
"""Scores token sequences with transformers, optionally through a PEFT LoRA adapter, for the
tests that check rdpo-native's adapters and merged models against PEFT (test/lora_peft.test.ts).

    python3 scripts/peft_logits.py REQUEST.json      prints JSON to stdout

REQUEST.json: {"base": model dir, "adapter": adapter dir or null, "sequences": [[token ids]]}.
Output: {"last_logits": [[float32 logits at the last position]], "logprob_sums": [sum over t >= 1
of log p(token t | tokens < t)]}, computed in float32 in eval mode.
Exit status 3 when torch, transformers or peft cannot be imported (the test then skips).

Dev tool only; the package never runs Python.
"""
import json
import sys

try:
    import torch
    from transformers import AutoModelForCausalLM
    from peft import PeftModel
except ImportError as err:  # the caller reports this and skips
    print(f"missing Python package: {err}", file=sys.stderr)
    sys.exit(3)


def main():
    with open(sys.argv[1]) as f:
        req = json.load(f)
    model = AutoModelForCausalLM.from_pretrained(req["base"], torch_dtype=torch.float32)
    if req.get("adapter"):
        model = PeftModel.from_pretrained(model, req["adapter"])
    model.eval()
    last, sums = [], []
    with torch.no_grad():
        for seq in req["sequences"]:
            ids = torch.tensor([seq])
            logits = model(input_ids=ids).logits[0].float()
            last.append(logits[-1].tolist())
            sums.append(float(torch.log_softmax(logits[:-1], dim=-1).gather(1, ids[0, 1:].unsqueeze(1)).sum()))
    json.dump({"last_logits": last, "logprob_sums": sums}, sys.stdout)


if __name__ == "__main__":
    main()
