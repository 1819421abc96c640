#!/usr/bin/env python3
"""Checks the hand-written chat fixture against the published template.

tests/data/chat/cases.json was written by hand from reading the DeepSeek-R1-Distill chat
template. This renders every case with jinja2 the way transformers' apply_chat_template
does (sandboxed environment, trim_blocks, lstrip_blocks, loop controls) and reports any
case whose 'expected' text differs.

    python3 tools/check-chat-cases.py [--config ../shared/tokenizers/deepseek-r1-distill-qwen/tokenizer_config.json]

(the default: that file, or its copy in tests/data where ../shared is absent)

Needs jinja2 (Debian: python3-jinja2). With Hugging Face `tokenizers` installed,
--hf-tokenizer DIR --write-hf-ids PATH also writes the ids HF gives each rendered text
(tests/data/chat/hf-ids.json was made this way on the GPU machine).
"""
import argparse
import json
import lzma
import pathlib
import sys

from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parent.parent


def render(template_text, config, messages, add_generation_prompt):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    template = env.from_string(template_text)
    return template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                           bos_token=config["bos_token"], eos_token=config["eos_token"])


def main():
    parser = argparse.ArgumentParser()
    config_path = "tokenizers/deepseek-r1-distill-qwen/tokenizer_config.json"
    shared_config = ROOT.parent / "shared" / config_path
    # without ../shared: the copy that tests/data carries (xz, read as is)
    parser.add_argument("--config", default=str(
        shared_config if shared_config.exists() else ROOT / "tests/data" / (config_path + ".xz")))
    parser.add_argument("--cases", default=str(ROOT / "tests/data/chat/cases.json"))
    parser.add_argument("--hf-tokenizer", help="directory for AutoTokenizer (optional)")
    parser.add_argument("--write-hf-ids", help="with --hf-tokenizer: write HF's ids here")
    args = parser.parse_args()

    opener = lzma.open if args.config.endswith(".xz") else open
    with opener(args.config, "rt", encoding="utf-8") as f:
        config = json.load(f)
    cases = json.load(open(args.cases, encoding="utf-8"))["cases"]
    failures = 0
    for case in cases:
        got = render(config["chat_template"], config, case["messages"],
                     case["add_generation_prompt"])
        if got != case["expected"]:
            failures += 1
            print(f"DIFFERS: {case['name']}\n  template: {got!r}\n  fixture:  {case['expected']!r}")
    if args.hf_tokenizer:
        # Hugging Face `tokenizers` itself: transformers' AutoTokenizer is not used because
        # transformers 5 rebuilds this tokenizer from tokenizer_config.json's
        # LlamaTokenizerFast class and loses spaces, CJK and emoji.
        import tokenizers
        tok = tokenizers.Tokenizer.from_file(str(pathlib.Path(args.hf_tokenizer) / "tokenizer.json"))
        hf_ids = {case["name"]: tok.encode(case["expected"], add_special_tokens=False).ids
                  for case in cases}
        if args.write_hf_ids:
            with open(args.write_hf_ids, "w", encoding="utf-8") as f:
                json.dump({"about": "Hugging Face tokenizers " + tokenizers.__version__ +
                                    ": Tokenizer.from_file(tokenizer.json).encode(expected, "
                                    "add_special_tokens=False).ids for each case of cases.json "
                                    "(tools/check-chat-cases.py --write-hf-ids)",
                           "ids": hf_ids}, f, ensure_ascii=False)
                f.write("\n")
    print(f"{len(cases)} cases, {failures} differences")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
