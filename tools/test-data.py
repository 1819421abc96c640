#!/usr/bin/env python3
"""The repository's own copy of the shared test data (tests/data/SHA256SUMS and its .xz files).

The tests read their tokenizers, golden vectors, llama.cpp-made models and reference logits
from $PONDER_SHARED, laid out as ../shared is. A clone without ../shared gets a covering
subset of it from tests/data: every file named in tests/data/SHA256SUMS (its hash is that of
the uncompressed file) is committed as tests/data/PATH.xz, and the build unpacks them into
a tree of the same layout. The manifest is the one list of what the subset holds: the build,
the check and the packing all read it.

    test-data.py unpack DIR STAMP   decompress every file into DIR (hashes checked), then
                                    touch STAMP (what Meson's custom_target waits for)
    test-data.py check [SHARED]     the test: every manifest file is there and intact, nothing
                                    else is, each reference.json lists exactly the models
                                    beside it; with SHARED, every file equals SHARED's
                                    (reference.json: SHARED's entries for those models)
    test-data.py pack SHARED [PATH...]
                                    (maintainers) rewrite the .xz files and the manifest
                                    from SHARED, adding PATHs to the subset; a models
                                    directory's reference.json keeps only its subset's entries
                                    (to drop a file: delete its line and its .xz, then pack)
"""
import hashlib
import json
import lzma
import os
import sys

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
MANIFEST = os.path.join(DATA, "SHA256SUMS")
# xz -9e: the files are read at every build, written once.
XZ_PRESET = 9 | lzma.PRESET_EXTREME


def read_manifest():
    entries = {}
    with open(MANIFEST, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                digest, path = line.split(None, 1)
                entries[path.strip()] = digest
    return entries


def write_manifest(entries):
    with open(MANIFEST, "w", encoding="utf-8") as f:
        for path in sorted(entries):
            f.write(f"{entries[path]}  {path}\n")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read_xz(path):
    with lzma.open(os.path.join(DATA, path + ".xz")) as f:
        return f.read()


def models_in(entries, directory):
    return sorted(os.path.basename(p) for p in entries
                  if os.path.dirname(p) == directory and p.endswith(".gguf"))


def pruned_reference(text, models):
    """reference.json with only the entries of MODELS (key order and number spelling kept)."""
    reference = json.loads(text)
    reference["files"] = {name: reference["files"][name] for name in models}
    return json.dumps(reference, ensure_ascii=False).encode("utf-8")


def unpack(out_dir, stamp):
    for path, digest in read_manifest().items():
        data = read_xz(path)
        if sha256(data) != digest:
            sys.exit(f"tests/data/{path}.xz does not unpack to the file SHA256SUMS names")
        target = os.path.join(out_dir, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target + ".tmp", "wb") as f:
            f.write(data)
        os.replace(target + ".tmp", target)
    with open(stamp, "w", encoding="utf-8"):
        pass


def check(shared):
    entries = read_manifest()
    failures = []
    committed = set()
    for root, _, names in os.walk(DATA):
        for name in names:
            if name.endswith(".xz"):
                committed.add(os.path.relpath(os.path.join(root, name), DATA)[:-3])
    for path in sorted(committed - set(entries)):
        failures.append(f"{path}.xz is not in SHA256SUMS")
    for path in sorted(set(entries) - committed):
        failures.append(f"{path}.xz is missing")
    contents = {}
    for path in sorted(set(entries) & committed):
        contents[path] = read_xz(path)
        if sha256(contents[path]) != entries[path]:
            failures.append(f"{path}.xz does not unpack to the file SHA256SUMS names")
    directories = {os.path.dirname(p) for p in entries if p.endswith(".gguf")}
    for directory in sorted(directories):
        reference = f"{directory}/reference.json"
        if reference not in contents:
            failures.append(f"{directory} has models but no reference.json")
            continue
        listed = sorted(json.loads(contents[reference])["files"])
        if listed != models_in(entries, directory):
            failures.append(f"{reference} lists {listed}, the subset holds "
                            f"{models_in(entries, directory)}")
    if shared:
        for path, data in sorted(contents.items()):
            if not os.path.exists(os.path.join(shared, path)):
                print(f"note: {shared}/{path} is not there (an older {shared}?)")
                continue
            with open(os.path.join(shared, path), "rb") as f:
                original = f.read()
            if os.path.basename(path) == "reference.json":
                original = pruned_reference(original, models_in(entries, os.path.dirname(path)))
            if data != original:
                failures.append(f"{path} differs from {shared}/{path}")
    for failure in failures:
        print(failure, file=sys.stderr)
    print(f"{len(contents)} files checked" + (f" against {shared}" if shared else ""))
    return 1 if failures else 0


def pack(shared, added):
    entries = read_manifest() if os.path.exists(MANIFEST) else {}
    paths = set(entries) | set(added)
    new_entries = {}
    for path in sorted(paths):
        with open(os.path.join(shared, path), "rb") as f:
            data = f.read()
        if os.path.basename(path) == "reference.json":
            data = pruned_reference(data, models_in(paths, os.path.dirname(path)))
        new_entries[path] = sha256(data)
        if entries.get(path) == new_entries[path]:
            continue  # unchanged: keep the committed bytes
        target = os.path.join(DATA, path + ".xz")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(lzma.compress(data, preset=XZ_PRESET))
        print(f"packed {path}")
    write_manifest(new_entries)


def main():
    args = sys.argv[1:]
    if args[:1] == ["unpack"] and len(args) == 3:
        unpack(args[1], args[2])
        return 0
    if args[:1] == ["check"] and len(args) <= 2:
        return check(args[1] if len(args) == 2 and os.path.isdir(args[1]) else None)
    if args[:1] == ["pack"] and len(args) >= 2:
        pack(args[1], args[2:])
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
