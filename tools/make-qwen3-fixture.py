#!/usr/bin/env python3
"""Makes tests/data/hf-tiny-qwen3/: a tiny random Qwen3ForCausalLM checkpoint for the
converter test, with the shapes a qwen3 reader must handle and the keys R1-0528-Qwen3-8B's
config has: head_dim 128 while hidden_size / num_attention_heads is 64 (q_proj is wider
than the hidden size, o_proj maps it back), per-head q_norm/k_norm, tied embeddings, and
rope_scaling {rope_type yarn, factor 4, original_max_position_embeddings 1024}.

Stdlib only (no torch): BF16 weights from a seeded generator, written as safetensors. The
tokenizer files are hf-tiny-qwen2-tied's (the same cut R1 vocabulary). There are no
reference logits here -- the qwen3 forward pass is checked against ../shared/models2 --
the converter test checks names, shapes, metadata and that every value survives exactly.

Usage: tools/make-qwen3-fixture.py [--out tests/data/hf-tiny-qwen3]
"""

import argparse
import json
import os
import random
import shutil
import struct

HIDDEN, FFN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, VOCAB = 128, 384, 2, 2, 1, 128, 1536


def bf16_bytes(values):
    out = bytearray()
    for v in values:
        out += struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:4]
    return bytes(out)


def tensors(rng):
    def mat(rows, cols, scale=0.05):
        return [rows, cols], [rng.gauss(0.0, scale) for _ in range(rows * cols)]

    def norm(n):
        return [n], [1.0 + rng.gauss(0.0, 0.1) for _ in range(n)]

    q, kv = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM
    yield "model.embed_tokens.weight", mat(VOCAB, HIDDEN, 0.5)
    yield "model.norm.weight", norm(HIDDEN)
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", norm(HIDDEN)
        yield p + "self_attn.q_proj.weight", mat(q, HIDDEN)
        yield p + "self_attn.k_proj.weight", mat(kv, HIDDEN)
        yield p + "self_attn.v_proj.weight", mat(kv, HIDDEN)
        yield p + "self_attn.q_norm.weight", norm(HEAD_DIM)
        yield p + "self_attn.k_norm.weight", norm(HEAD_DIM)
        yield p + "self_attn.o_proj.weight", mat(HIDDEN, q)
        yield p + "post_attention_layernorm.weight", norm(HIDDEN)
        yield p + "mlp.gate_proj.weight", mat(FFN, HIDDEN)
        yield p + "mlp.up_proj.weight", mat(FFN, HIDDEN)
        yield p + "mlp.down_proj.weight", mat(HIDDEN, FFN)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "hf-tiny-qwen3"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    source = os.path.join(here, "..", "tests", "data", "hf-tiny-qwen2-tied")
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(os.path.join(source, name), os.path.join(args.out, name))
    with open(os.path.join(source, "config.json")) as f:
        base = json.load(f)

    config = {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "bos_token_id": base["bos_token_id"],
        "eos_token_id": base["eos_token_id"],
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "max_position_embeddings": 4096,
        "model_type": "qwen3",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "num_key_value_heads": KV_HEADS,
        "rms_norm_eps": 1e-06,
        "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024},
        "rope_theta": 1000000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "vocab_size": VOCAB,
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")

    rng = random.Random(12)
    header, blobs, offset = {}, [], 0
    for name, (shape, values) in tensors(rng):
        data = bf16_bytes(values)
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(args.out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


if __name__ == "__main__":
    main()
