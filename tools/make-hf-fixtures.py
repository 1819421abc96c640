#!/usr/bin/env python3
"""Makes the tiny Hugging Face reference models in tests/data/hf-tiny-*/.

Each folder is a complete Hugging Face checkpoint (config.json, BF16 safetensors,
tokenizer.json, tokenizer_config.json, generation_config.json) of a random model, plus
what `transformers` computes from it, for the converter and forward-pass tests:

  hf-tiny-qwen2       Qwen2ForCausalLM: hidden 256, FFN 512, 2 layers, 4 heads, 2 KV heads,
                      head_dim 64, QKV bias, rope_theta 1e6, untied output, one safetensors file.
  hf-tiny-llama       LlamaForCausalLM: same sizes, no bias, rope_theta 5e5 with Llama 3.1
                      `rope_scaling` (llama3, factor 8, low 1, high 4, original 8192); stored in
                      two shards with model.safetensors.index.json, like the real checkpoints.
  hf-tiny-qwen2-tied  Qwen2ForCausalLM with tie_word_embeddings (no lm_head.weight stored):
                      hidden 128, FFN 384, 2 layers, 2 heads, 1 KV head, head_dim 64.

Vocabulary: the first N_BASE_TOKENS tokens of the DeepSeek-R1-Distill-Qwen tokenizer, the
merges whose two parts and result are all kept (in their original order), and R1's seven
markers renumbered right after them (<｜end▁of▁sentence｜> N_BASE_TOKENS ... </think> +6).
The embedding has VOCAB_ROWS rows, so the rows past the tokenizer are padding. The llama
fixture uses the same cut vocabulary with the Llama 3 pre-tokenizer (\\p{N}{1,3}, no NFC
normaliser, ignore_merges) and its merges written as "a b" strings, as Llama 3's file does;
its tokenizer_config.json gives bos/eos as AddedToken objects.

expected.json (format "ponder-hf-fixture-1"):
  prompt_text       the prompt after BOS (R1 chat markers included)
  prompt_ids        ids from `tokenizers` (added tokens matched, BOS added by the
                    post-processor)
  n_vocab           logits per position (= config vocab_size = embedding rows)
  logits_file       "expected-logits.f32": little-endian float32 [len(prompt_ids)][n_vocab];
                    row i holds the logits after prompt_ids[0..i]
  last_logits       row len(prompt_ids)-1 again, as JSON numbers (float64)
  greedy_ids        32 greedy tokens after the prompt (argmax, no stop at EOS)
  greedy_margins    top-1 minus top-2 logit at each greedy step; the seed was chosen so
                    that the smallest is >= MIN_MARGIN and the run has >= MIN_DISTINCT ids
  versions          torch, transformers, tokenizers, safetensors, python
Reference: transformers in float64 (model.double(), eager attention) from the BF16 weights as
stored; transformers computes the RoPE cos/sin tables in float32 even then.

Runs where torch + transformers + tokenizers + safetensors are installed (the GPU machine):
  python3 tools/make-hf-fixtures.py --tokenizer .carry/deepseek-r1-distill-qwen --out tests/data
`--dry-run` makes only the tokenizer files (needs nothing but the standard library).
"""

import argparse
import copy
import json
import math
import os
import platform
import struct
import sys
import traceback

N_BASE_TOKENS = 1500
VOCAB_ROWS = 1536
R1_MARKER_FIRST = 151643  # <｜end▁of▁sentence｜>
R1_MARKER_COUNT = 7  # ... </think> (151649)
BOS_TEXT = "<｜begin▁of▁sentence｜>"
EOS_TEXT = "<｜end▁of▁sentence｜>"
N_GREEDY = 32
MIN_MARGIN = 0.05
MIN_DISTINCT = 16  # a greedy run that repeats one token tests little
MAX_SEED_TRIES = 64
PROMPT_TEXT = "<｜User｜>Write a short poem about the sea, in 3 lines.<｜Assistant｜><think>\n"

QWEN2_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
               " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
LLAMA3_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
                " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")

FIXTURES = [
    dict(name="hf-tiny-qwen2", arch="qwen2", tied=False, hidden=256, ffn=512, layers=2,
         heads=4, kv_heads=2, shards=1),
    dict(name="hf-tiny-llama", arch="llama", tied=False, hidden=256, ffn=512, layers=2,
         heads=4, kv_heads=2, shards=2),
    dict(name="hf-tiny-qwen2-tied", arch="qwen2", tied=True, hidden=128, ffn=384, layers=2,
         heads=2, kv_heads=1, shards=1),
]


# ---- tokenizer ------------------------------------------------------------------------

def merge_parts(merge):
    """A merge is ["a", "b"] in Qwen's file and "a b" in Llama's."""
    if isinstance(merge, str):
        left, right = merge.split(" ")
        return left, right
    return merge[0], merge[1]


def cut_tokenizer(r1_tokenizer, style):
    tok = copy.deepcopy(r1_tokenizer)
    model = tok["model"]
    kept = {text: i for text, i in model["vocab"].items() if i < N_BASE_TOKENS}
    assert sorted(kept.values()) == list(range(N_BASE_TOKENS)), "R1 ids are not dense"
    merges = []
    for merge in model["merges"]:
        left, right = merge_parts(merge)
        if left in kept and right in kept and left + right in kept:
            merges.append(f"{left} {right}" if style == "llama3" else [left, right])
    model["vocab"] = kept
    model["merges"] = merges

    renumber = {}
    added = []
    for entry in tok["added_tokens"]:
        offset = entry["id"] - R1_MARKER_FIRST
        if 0 <= offset < R1_MARKER_COUNT:
            entry = dict(entry, id=N_BASE_TOKENS + offset)
            renumber[entry["content"]] = entry["id"]
            added.append(entry)
    assert len(added) == R1_MARKER_COUNT
    tok["added_tokens"] = added
    for special in tok["post_processor"]["special_tokens"].values():
        special["ids"] = [renumber[t] for t in special["tokens"]]

    split = tok["pre_tokenizer"]["pretokenizers"][0]
    assert split["type"] == "Split" and split["pattern"]["Regex"] == QWEN2_REGEX
    if style == "llama3":
        split["pattern"]["Regex"] = LLAMA3_REGEX
        tok["normalizer"] = None
        model["ignore_merges"] = True
    return tok, renumber


def tokenizer_config(r1_config, style):
    config = dict(r1_config)
    if style == "llama3":
        # R1-Distill-Llama writes these as AddedToken objects; both forms must be read.
        for key in ("bos_token", "eos_token", "pad_token"):
            config[key] = {"__type": "AddedToken", "content": config[key], "lstrip": False,
                           "normalized": True, "rstrip": False, "single_word": False}
    return config


# ---- model ----------------------------------------------------------------------------

def hf_config(fx, bos_id, eos_id, transformers_version):
    common = {
        "architectures": ["Qwen2ForCausalLM" if fx["arch"] == "qwen2" else "LlamaForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "hidden_act": "silu",
        "hidden_size": fx["hidden"],
        "initializer_range": 0.02,
        "intermediate_size": fx["ffn"],
        "num_attention_heads": fx["heads"],
        "num_hidden_layers": fx["layers"],
        "num_key_value_heads": fx["kv_heads"],
        "tie_word_embeddings": fx["tied"],
        "torch_dtype": "bfloat16",
        "transformers_version": transformers_version,
        "use_cache": True,
        "vocab_size": VOCAB_ROWS,
    }
    if fx["arch"] == "qwen2":
        common.update({
            "max_position_embeddings": 32768,
            "max_window_layers": fx["layers"],
            "model_type": "qwen2",
            "rms_norm_eps": 1e-06,
            "rope_scaling": None,
            "rope_theta": 1000000.0,
            "sliding_window": 4096,
            "use_sliding_window": False,
        })
    else:
        common.update({
            "attention_bias": False,
            "head_dim": fx["hidden"] // fx["heads"],
            "max_position_embeddings": 131072,
            "mlp_bias": False,
            "model_type": "llama",
            "pretraining_tp": 1,
            "rms_norm_eps": 1e-05,
            "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 8192, "rope_type": "llama3"},
            "rope_theta": 500000.0,
        })
    return dict(sorted(common.items()))


def llama3_inv_freq(head_dim, theta, scaling):
    """Llama 3.1's frequency scaling, written out to check what transformers read."""
    low_wavelen = scaling["original_max_position_embeddings"] / scaling["low_freq_factor"]
    high_wavelen = scaling["original_max_position_embeddings"] / scaling["high_freq_factor"]
    out = []
    for i in range(head_dim // 2):
        freq = 1.0 / theta ** (2 * i / head_dim)
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            out.append(freq)
        elif wavelen > low_wavelen:
            out.append(freq / scaling["factor"])
        else:
            smooth = ((scaling["original_max_position_embeddings"] / wavelen - scaling["low_freq_factor"])
                      / (scaling["high_freq_factor"] - scaling["low_freq_factor"]))
            out.append((1 - smooth) * freq / scaling["factor"] + smooth * freq)
    return out


def randomize(torch, model, n_tokens, tied, seed):
    """Weights with well-spread logits (standard deviation about 5, so that greedy steps
    are not near-ties): matrices N(0, 0.08), norms 1 + N(0, 0.1) but 4 (1 + N(0, 0.1)) for
    the final norm, biases N(0, 0.2), embeddings N(0, 0.5), or N(0, 0.1) when tied (a large
    tied embedding makes the model echo its input token). The padding rows of the
    embedding and the output are scaled down so that greedy decoding does not land on
    them. Every value is rounded to BF16, the stored type."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            shape = param.shape
            noise = torch.randn(shape, generator=gen, dtype=torch.float32)
            if name.endswith("embed_tokens.weight"):
                value = noise * (0.1 if tied else 0.5)
            elif name == "model.norm.weight":
                value = 4.0 * (1.0 + 0.1 * noise)
            elif name.endswith("norm.weight"):
                value = 1.0 + 0.1 * noise
            elif name.endswith(".bias"):
                value = 0.2 * noise
            else:
                value = 0.08 * noise
            if name.endswith(("embed_tokens.weight", "lm_head.weight")):
                value[n_tokens:] *= 0.1
            param.copy_(value.to(torch.bfloat16).to(param.dtype))


def forward_logits(torch, model, ids):
    # lm_head applied here rather than through model(...): some transformers versions cast
    # the logits to float32.
    with torch.no_grad():
        hidden = model.model(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=False)[0]
        logits = model.lm_head(hidden)[0]
    assert logits.dtype == torch.float64
    return logits


def greedy(torch, model, prompt_ids):
    seq = list(prompt_ids)
    ids, margins = [], []
    for _ in range(N_GREEDY):
        last = forward_logits(torch, model, seq)[-1]
        top = torch.topk(last, 2)
        ids.append(int(top.indices[0]))
        margins.append(float(top.values[0] - top.values[1]))
        seq.append(ids[-1])
    return ids, margins


def save_safetensors(torch, save_file, state, out_dir, n_shards):
    names = list(state.keys())
    if n_shards == 1:
        save_file(state, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
        return ["model.safetensors"]
    total = sum(t.numel() * t.element_size() for t in state.values())
    shards, current, size = [], [], 0
    for name in names:
        current.append(name)
        size += state[name].numel() * state[name].element_size()
        if len(shards) < n_shards - 1 and size >= total * (len(shards) + 1) / n_shards:
            shards.append(current)
            current = []
    shards.append(current)
    weight_map, files = {}, []
    for i, shard in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file({n: state[n] for n in shard}, os.path.join(out_dir, file),
                  metadata={"format": "pt"})
        files.append(file)
        weight_map.update({n: file for n in shard})
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))},
                  f, indent=2)
        f.write("\n")
    return files


def load_model(torch, transformers, out_dir):
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            out_dir, dtype=torch.bfloat16, attn_implementation="eager")
    except TypeError:  # transformers < 4.56 names it torch_dtype
        model = transformers.AutoModelForCausalLM.from_pretrained(
            out_dir, torch_dtype=torch.bfloat16, attn_implementation="eager")
    return model.double().eval()


def make_fixture(fx, r1_tok, r1_tok_config, out_root, versions, libs):
    torch, transformers, tokenizers, save_file = libs
    out_dir = os.path.join(out_root, fx["name"])
    os.makedirs(out_dir, exist_ok=True)
    style = "llama3" if fx["arch"] == "llama" else "qwen2"
    _, marker_ids = write_tokenizer_files(fx, r1_tok, r1_tok_config, out_dir)
    bos_id, eos_id = marker_ids[BOS_TEXT], marker_ids[EOS_TEXT]

    config = hf_config(fx, bos_id, eos_id, versions["transformers"])
    write_json(os.path.join(out_dir, "config.json"), config)
    write_json(os.path.join(out_dir, "generation_config.json"), {
        "_from_model_config": True, "bos_token_id": bos_id, "do_sample": True,
        "eos_token_id": eos_id, "temperature": 0.6, "top_p": 0.95,
        "transformers_version": versions["transformers"]})

    encoding = tokenizers.Tokenizer.from_file(os.path.join(out_dir, "tokenizer.json")).encode(
        PROMPT_TEXT, add_special_tokens=True)
    prompt_ids = list(encoding.ids)
    assert prompt_ids[0] == bos_id, f"post-processor did not add BOS: {prompt_ids}"
    assert marker_ids["<｜User｜>"] in prompt_ids and marker_ids["<think>"] in prompt_ids
    print(f"{fx['name']}: {style} prompt of {len(prompt_ids)} ids: {prompt_ids}", flush=True)

    hf_conf = transformers.AutoConfig.from_pretrained(out_dir)
    n_tokens = N_BASE_TOKENS + R1_MARKER_COUNT
    chosen = None
    for seed in range(MAX_SEED_TRIES):
        torch.manual_seed(seed)
        candidate = transformers.AutoModelForCausalLM.from_config(
            hf_conf, attn_implementation="eager")
        if fx["tied"]:
            candidate.lm_head.weight = candidate.model.embed_tokens.weight
        randomize(torch, candidate, n_tokens, fx["tied"], seed)
        candidate = candidate.double().eval()
        ids, margins = greedy(torch, candidate, prompt_ids)
        print(f"  seed {seed}: min margin {min(margins):.4f}, greedy {ids}", flush=True)
        if min(margins) >= MIN_MARGIN and len(set(ids)) >= MIN_DISTINCT:
            chosen = (seed, candidate, ids, margins)
            break
    assert chosen, "no seed gave greedy margins >= MIN_MARGIN with MIN_DISTINCT tokens"
    seed, candidate, cand_ids, _ = chosen

    state = {name: t.detach().to(torch.bfloat16).contiguous()
             for name, t in candidate.named_parameters(remove_duplicate=False)}
    if fx["tied"]:
        del state["lm_head.weight"]  # transformers ties it to the embedding when loading
    files = save_safetensors(torch, save_file, state, out_dir, fx["shards"])

    # The reference comes from the files as stored, loaded the way users load them.
    model = load_model(torch, transformers, out_dir)
    loaded = model.state_dict()
    for name, t in state.items():
        assert torch.equal(loaded[name], t.double()), f"{name} differs after loading"
    if fx["tied"]:
        assert torch.equal(loaded["lm_head.weight"], loaded["model.embed_tokens.weight"])
    rope_check = check_rope(torch, model, config)
    logits = forward_logits(torch, model, prompt_ids)
    greedy_ids, margins = greedy(torch, model, prompt_ids)
    assert greedy_ids == cand_ids, "greedy run differs between in-memory and loaded model"

    with open(os.path.join(out_dir, "expected-logits.f32"), "wb") as f:
        for row in logits.tolist():
            f.write(struct.pack(f"<{len(row)}f", *row))
    write_json(os.path.join(out_dir, "expected.json"), {
        "format": "ponder-hf-fixture-1",
        "model": fx["name"],
        "reference": "transformers float64 (model.double(), eager attention) from the BF16 "
                     "weights as stored; RoPE cos/sin computed in float32 by transformers",
        "seed": seed,
        "safetensors_files": files,
        "n_tokenizer_tokens": n_tokens,
        "n_vocab": VOCAB_ROWS,
        "bos_id": bos_id,
        "eos_id": eos_id,
        "prompt_text": PROMPT_TEXT,
        "prompt_ids": prompt_ids,
        "logits_file": "expected-logits.f32",
        "logits_shape": [len(prompt_ids), VOCAB_ROWS],
        "last_logits": logits[-1].tolist(),
        "greedy_ids": greedy_ids,
        "greedy_margins": margins,
        "rope_check": rope_check,
        "logits_stats": {"std_last": float(logits[-1].std()), "max_abs": float(logits.abs().max())},
        "versions": versions,
    })
    print(f"  -> seed {seed}, greedy {greedy_ids}, min margin {min(margins):.4f}, "
          f"last-logit std {float(logits[-1].std()):.3f}, rope {rope_check}", flush=True)


def check_rope(torch, model, config):
    """The inverse frequencies transformers uses, against the formula (llama3 scaling)."""
    rotary = getattr(model.model, "rotary_emb", None)
    if rotary is None or not hasattr(rotary, "inv_freq"):
        return "not checked (no model.model.rotary_emb.inv_freq)"
    head_dim = config.get("head_dim", config["hidden_size"] // config["num_attention_heads"])
    if config.get("rope_scaling"):
        want = llama3_inv_freq(head_dim, config["rope_theta"], config["rope_scaling"])
    else:
        want = [1.0 / config["rope_theta"] ** (2 * i / head_dim) for i in range(head_dim // 2)]
    got = rotary.inv_freq.double().tolist()
    worst = max(abs(g - w) / w for g, w in zip(got, want))
    if len(got) != len(want) or worst >= 1e-6:
        print(f"  ROPE MISMATCH: transformers {got} vs formula {want}", flush=True)
        return f"MISMATCH (max rel diff {worst:.2e})"
    return f"ok (max rel diff {worst:.2e})"


# ---- files ----------------------------------------------------------------------------

def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_tokenizer_files(fx, r1_tok, r1_tok_config, out_dir):
    style = "llama3" if fx["arch"] == "llama" else "qwen2"
    tok, marker_ids = cut_tokenizer(r1_tok, style)
    write_json(os.path.join(out_dir, "tokenizer.json"), tok)
    write_json(os.path.join(out_dir, "tokenizer_config.json"), tokenizer_config(r1_tok_config, style))
    return tok, marker_ids


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizer", required=True,
                        help="folder with R1-Distill-Qwen's tokenizer.json and tokenizer_config.json")
    parser.add_argument("--out", required=True, help="folder that receives hf-tiny-*/")
    parser.add_argument("--dry-run", action="store_true", help="tokenizer files only")
    args = parser.parse_args()

    with open(os.path.join(args.tokenizer, "tokenizer.json"), encoding="utf-8") as f:
        r1_tok = json.load(f)
    with open(os.path.join(args.tokenizer, "tokenizer_config.json"), encoding="utf-8") as f:
        r1_tok_config = json.load(f)

    if args.dry_run:
        for fx in FIXTURES:
            out_dir = os.path.join(args.out, fx["name"])
            os.makedirs(out_dir, exist_ok=True)
            tok, marker_ids = write_tokenizer_files(fx, r1_tok, r1_tok_config, out_dir)
            print(fx["name"], len(tok["model"]["vocab"]), "tokens,", len(tok["model"]["merges"]),
                  "merges, markers", marker_ids)
        return 0

    import safetensors
    import tokenizers
    import torch
    import transformers
    from safetensors.torch import save_file
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                "safetensors": safetensors.__version__}
    print(versions, flush=True)
    torch.set_num_threads(min(8, os.cpu_count() or 1))
    failures = 0
    for fx in FIXTURES:
        try:
            make_fixture(fx, r1_tok, r1_tok_config, args.out, versions,
                         (torch, transformers, tokenizers, save_file))
        except Exception:  # keep going: one device call should bring back all it can
            traceback.print_exc()
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
