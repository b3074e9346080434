#!/usr/bin/env python3
"""Creates the model directory the throughput bench trains: a randomly initialised Llama-shaped model.

Weights are random on purpose: step time depends on shapes, not values, and a generated model keeps the bench
free of any hub download. Presets:

  smollm2-135m  exactly SmolLM2-135M's shape: 30 layers, hidden 576, intermediate 1536, 9 heads, 3 KV heads,
                head_dim 64, vocab 49152, tied embeddings, RoPE theta 100000 (134.5M parameters).
  llama-1b      a ~1.07B Llama (TinyLlama-1.1B's trunk with vocab 49152): 22 layers, hidden 2048,
                intermediate 5632, 32 heads, 4 KV heads, tied embeddings. Used by bench/gpu_bench.sh.
  mistral-7b    Mistral-7B-Instruct-v0.2's shape (model_type mistral): 32 layers, hidden 4096, intermediate
                14336, 32 heads, 8 KV heads, vocab 32000, untied LM head, RoPE theta 1e6 (7.24B parameters).
                Written tensor by tensor into ~2 GB shards (model.safetensors.index.json), so making it
                needs about one shard of memory, not the model's; use --dtype bfloat16 (14.5 GB on disk).

The tokenizer is taken, in order of preference, from
  1. --tokenizer-dir: an existing Hugging Face tokenizer directory (e.g. a SmolLM2 import);
  2. --gguf: a GGUF file's embedded tokenizer, converted by transformers (default: the SmolLM2-135M-Instruct GGUF
     named by RDPO_TEST_GGUF when set) — this is SmolLM2's real 49152-token tokenizer;
  3. otherwise a byte-level BPE trained here with the `tokenizers` library on the shared data files (its vocab may
     stop short of 49152 when the text runs out of merges; the model's vocab stays 49152).

Usage: python bench/make_bench_model.py --out DIR [--preset smollm2-135m|llama-1b] [--dtype float32|bfloat16]
                                          [--tokenizer-dir DIR | --gguf FILE] [--seed 0]
Dev tool only (Python is never a runtime dependency of the package).
"""
import argparse
import glob
import gzip
import json
import os
import shutil
import sys

PRESETS = {
    "smollm2-135m": dict(
        hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
        num_key_value_heads=3, vocab_size=49152, max_position_embeddings=8192, rope_theta=100000.0,
        rms_norm_eps=1e-5, tie_word_embeddings=True,
    ),
    "llama-1b": dict(
        hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
        num_key_value_heads=4, vocab_size=49152, max_position_embeddings=4096, rope_theta=10000.0,
        rms_norm_eps=1e-5, tie_word_embeddings=True,
    ),
    "mistral-7b": dict(
        hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, vocab_size=32000, max_position_embeddings=32768, rope_theta=1000000.0,
        rms_norm_eps=1e-5, tie_word_embeddings=False, sliding_window=None,
    ),
}
STREAMED = {"mistral-7b"}


def write_streamed(out, config, dtype, seed, shard_bytes=2 * 2**30):
    """Random weights (normal, std 0.02; norms 1) written shard by shard with an index, never the whole model in memory."""
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed)
    h, i, l = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    d = h // config.num_attention_heads
    kv = config.num_key_value_heads * d
    names = [("model.embed_tokens.weight", (config.vocab_size, h))]
    for n in range(l):
        p = f"model.layers.{n}."
        names += [(p + "input_layernorm.weight", (h,)), (p + "self_attn.q_proj.weight", (h, h)),
                  (p + "self_attn.k_proj.weight", (kv, h)), (p + "self_attn.v_proj.weight", (kv, h)),
                  (p + "self_attn.o_proj.weight", (h, h)), (p + "post_attention_layernorm.weight", (h,)),
                  (p + "mlp.gate_proj.weight", (i, h)), (p + "mlp.up_proj.weight", (i, h)),
                  (p + "mlp.down_proj.weight", (h, i))]
    names += [("model.norm.weight", (h,)), ("lm_head.weight", (config.vocab_size, h))]
    elem = torch.tensor([], dtype=dtype).element_size()
    shards, current, size = [], {}, 0
    for name, shape in names:
        if len(shape) == 1:
            t = torch.ones(shape, dtype=dtype)
        else:
            t = (torch.randn(shape, generator=gen, dtype=torch.float32) * 0.02).to(dtype)
        current[name] = t
        size += t.numel() * elem
        if size >= shard_bytes:
            shards.append(current)
            current, size = {}, 0
            _flush(out, shards, save_file)
    if current:
        shards.append(current)
        _flush(out, shards, save_file)
    total = len(shards)
    weight_map, total_size = {}, 0
    for k in range(total):
        old = os.path.join(out, f"part-{k + 1:05d}.safetensors")
        new = os.path.join(out, f"model-{k + 1:05d}-of-{total:05d}.safetensors")
        os.replace(old, new)
    for k, shard in enumerate(shards):
        for name, count in shard.items():
            weight_map[name] = f"model-{k + 1:05d}-of-{total:05d}.safetensors"
            total_size += count * elem
    with open(os.path.join(out, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
        json.dump({"metadata": {"total_size": total_size}, "weight_map": weight_map}, f, indent=2)
    return sum(sum(s.values()) for s in shards)


def _flush(out, shards, save_file):
    """Writes the newest shard and keeps only its tensor sizes (the memory goes back)."""
    k = len(shards)
    save_file(shards[-1], os.path.join(out, f"part-{k:05d}.safetensors"), metadata={"format": "pt"})
    shards[-1] = {name: t.numel() for name, t in shards[-1].items()}

DEFAULT_GGUF = os.environ.get("RDPO_TEST_GGUF", "")
SHARED_DATA = os.environ.get("RDPO_SHARED_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


def copy_tokenizer_dir(src, out):
    if not os.path.isfile(os.path.join(src, "tokenizer.json")):
        sys.exit(f"--tokenizer-dir {src}: no tokenizer.json there; pass a Hugging Face tokenizer directory")
    copied = [f for f in TOKENIZER_FILES if os.path.isfile(os.path.join(src, f))]
    for f in copied:
        shutil.copyfile(os.path.join(src, f), os.path.join(out, f))
    return f"copied from {src} ({', '.join(copied)})"


def tokenizer_from_gguf(path, out):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=os.path.basename(path))
    tok.save_pretrained(out)
    return f"converted from the GGUF file {path} (vocab {len(tok)})"


def shared_texts():
    """Every text field of the shared preference/instruction files, for training a fallback tokenizer."""
    data = os.path.abspath(SHARED_DATA)
    for path in sorted(glob.glob(os.path.join(data, "*.jsonl.gz"))):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                yield from (v for v in row.values() if isinstance(v, str))
    for path in sorted(glob.glob(os.path.join(data, "llamafactory-*.json"))):
        with open(path, encoding="utf-8") as f:
            for row in json.load(f):
                for v in row.values():
                    if isinstance(v, str):
                        yield v
                    elif isinstance(v, dict) and isinstance(v.get("value"), str):
                        yield v["value"]
                    elif isinstance(v, list):
                        yield from (t["value"] for t in v if isinstance(t, dict) and isinstance(t.get("value"), str))


def train_bpe_tokenizer(out, vocab_size):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(shared_texts(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|im_end|>", unk_token="<|endoftext|>")
    fast.save_pretrained(out)
    return f"byte-level BPE trained on {os.path.abspath(SHARED_DATA)} (vocab {tk.get_vocab_size()} of {vocab_size} asked)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="directory to write (config.json, model.safetensors, tokenizer)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="smollm2-135m")
    ap.add_argument("--tokenizer-vocab", type=int, default=None, help="vocab of the fallback BPE (default: the model's)")
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32", help="dtype of the saved weights")
    ap.add_argument("--tokenizer-dir", help="copy the tokenizer from this Hugging Face directory")
    ap.add_argument("--gguf", default=None, help=f"take the tokenizer from this GGUF file (default {DEFAULT_GGUF} if present)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    os.makedirs(args.out, exist_ok=True)
    shape = PRESETS[args.preset]
    if args.tokenizer_dir:
        how = copy_tokenizer_dir(args.tokenizer_dir, args.out)
    elif args.gguf or os.path.isfile(DEFAULT_GGUF):
        gguf = args.gguf or DEFAULT_GGUF
        if not os.path.isfile(gguf):
            sys.exit(f"--gguf {gguf}: no such file")
        how = tokenizer_from_gguf(gguf, args.out)
    else:
        how = train_bpe_tokenizer(args.out, args.tokenizer_vocab or shape["vocab_size"])

    with open(os.path.join(args.out, "tokenizer_config.json"), encoding="utf-8") as f:
        tok_cfg = json.load(f)
    with open(os.path.join(args.out, "tokenizer.json"), encoding="utf-8") as f:
        vocab = {t["content"]: t["id"] for t in json.load(f).get("added_tokens", [])}

    def token_id(key):
        name = tok_cfg.get(key)
        name = name.get("content") if isinstance(name, dict) else name
        return vocab.get(name) if name else None

    torch.manual_seed(args.seed)
    if args.preset in STREAMED:
        from transformers import MistralConfig

        config = MistralConfig(**shape, hidden_act="silu", bos_token_id=token_id("bos_token"),
                               eos_token_id=token_id("eos_token"), pad_token_id=token_id("pad_token"),
                               torch_dtype=args.dtype)
        config.save_pretrained(args.out)
        n = write_streamed(args.out, config, getattr(torch, args.dtype), args.seed)
        info = {"preset": args.preset, "parameters": n, "dtype": args.dtype, "seed": args.seed, "tokenizer": how}
        with open(os.path.join(args.out, "bench_model.json"), "w", encoding="utf-8") as f:
            json.dump(info, f, indent=2)
        print(json.dumps(info))
        return
    config = LlamaConfig(**shape, hidden_act="silu", attention_bias=False, mlp_bias=False,
                         bos_token_id=token_id("bos_token"), eos_token_id=token_id("eos_token"),
                         pad_token_id=token_id("pad_token"))
    model = LlamaForCausalLM(config).to(getattr(torch, args.dtype))
    model.save_pretrained(args.out, safe_serialization=True)
    n = sum(p.numel() for p in model.parameters())
    info = {"preset": args.preset, "parameters": n, "dtype": args.dtype, "seed": args.seed, "tokenizer": how}
    with open(os.path.join(args.out, "bench_model.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
