#!/usr/bin/env python3
"""Writes the malformed GGUF files of tests/data/gguf-hostile/ and the fuzzers' seed corpora.

Each hostile file breaks one rule of the format; expected-errors.txt maps its name to a
fragment the reader's error message must contain (so a file is rejected for the reason
it was made for, not by an accident earlier in the file). The seeds in
tests/fuzz/corpus-gguf/ are small valid or nearly valid files for libFuzzer to mutate; those
in tests/fuzz/corpus-model/ are whole tiny models (a ~300-token byte-level BPE vocabulary with
the R1 markers, one layer, embedding 32) that load and run, one per weight type, for the
model fuzzer (tests/fuzz/fuzz-model.c) to mutate.

Usage: tools/make-hostile-gguf.py [--hostile DIR] [--seeds DIR] [--model-seeds DIR]
       [--real-prefix GGUF]
(defaults: the three directories above, relative to the repository root; --real-prefix adds
the first 16 KiB of a real model file as one more seed).

Only the Python standard library is used; the output is deterministic.
"""

import argparse
import os
import random
import struct

# GGUF value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
# ggml tensor types: (id, block length, block bytes)
T_F32, T_F16, T_Q4_0, T_Q8_0, T_Q4_K, T_Q6_K, T_Q8_K, T_BF16 = (
    (0, 1, 4), (1, 1, 2), (2, 32, 18), (8, 32, 34), (12, 256, 144), (14, 256, 210),
    (15, 256, 292), (30, 1, 2))
T_Q4_1, T_Q5_0, T_Q5_1, T_Q2_K, T_Q3_K, T_Q5_K = (
    (3, 32, 20), (6, 32, 22), (7, 32, 24), (10, 256, 84), (11, 256, 110), (13, 256, 176))
SCALAR_FORMAT = {U8: '<B', I8: '<b', U16: '<H', I16: '<h', U32: '<I', I32: '<i',
                 F32: '<f', BOOL: '<?', U64: '<Q', I64: '<q', F64: '<d'}


def u32(v):
    return struct.pack('<I', v)


def u64(v):
    return struct.pack('<Q', v)


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return u64(len(b)) + b


def value(vtype, v):
    """Encoded value (without its type) of a scalar, string or (elem_type, list) array."""
    if vtype == STR:
        return gstr(v)
    if vtype == ARR:
        elem_type, items = v
        return u32(elem_type) + u64(len(items)) + b''.join(value(elem_type, x) for x in items)
    return struct.pack(SCALAR_FORMAT[vtype], v)


def kv(key, vtype, v):
    return gstr(key) + u32(vtype) + value(vtype, v)


def tensor_info(name, ne, ttype, offset):
    return gstr(name) + u32(len(ne)) + b''.join(u64(n) for n in ne) + u32(ttype[0]) + u64(offset)


def tensor_bytes(ne, ttype):
    n = 1
    for d in ne:
        n *= d
    return n // ttype[1] * ttype[2]


def header(n_tensors, n_kv, version=3, magic=b'GGUF'):
    return magic + u32(version) + u64(n_tensors) + u64(n_kv)


def pad(buf, alignment=32):
    return buf + b'\0' * (-len(buf) % alignment)


def build(kvs, tensors, alignment=32, seed=0):
    """A valid file: KVS are encoded kv() entries; TENSORS are (name, ne, type) laid out in
    order at aligned offsets and filled with pseudo-random bytes."""
    rng = random.Random(seed)
    infos, data = b'', b''
    for name, ne, ttype in tensors:
        data = pad(data, alignment)
        infos += tensor_info(name, ne, ttype, len(data))
        data += bytes(rng.getrandbits(8) for _ in range(tensor_bytes(ne, ttype)))
    return pad(header(len(tensors), len(kvs)) + b''.join(kvs) + infos, alignment) + data


ARCH = kv('general.architecture', STR, 'qwen2')


def one_tensor_file(name, ne, ttype, offset, data_size, extra_kvs=()):
    """A file with one tensor info as given and DATA_SIZE bytes of data."""
    kvs = [ARCH, *extra_kvs]
    head = header(1, len(kvs)) + b''.join(kvs) + tensor_info(name, ne, ttype, offset)
    return pad(head) + b'\x5a' * data_size


def hostile_files():
    """(file name, bytes, fragment of the expected error message)"""
    good = build([ARCH], [('a', [32], T_F32), ('b', [64, 2], T_Q8_0)])
    one = header(1, 1) + ARCH  # start of a file whose tensor info comes next
    past_end = one_tensor_file('blk.0.attn_q.weight', [64, 64], T_F32, 0, 1000)
    past_begin = len(past_end) - 1000
    files = [
        ('empty.gguf', b'', 'empty'),
        ('truncated-magic.gguf', b'GG', 'truncated: magic'),
        ('bad-magic.gguf', b'GGML' + good[4:], 'not a GGUF file'),
        ('version-1.gguf', header(0, 0, version=1), 'version 1 is not supported'),
        ('version-99.gguf', header(0, 0, version=99), 'unsupported GGUF version 99'),
        ('big-endian.gguf', b'GGUF' + struct.pack('>I', 3) + struct.pack('>QQ', 0, 0),
         'big-endian'),
        ('truncated-header.gguf', b'GGUF' + u32(3) + u64(0)[:5], 'truncated: tensor count'),
        ('truncated-key.gguf', header(0, 1) + u64(20) + b'general.', 'key 0: string length 20'),
        ('truncated-value.gguf', header(0, 1) + gstr('k') + u32(U32) + b'\1\2',
         "truncated: value of key 'k'"),
        ('truncated-array-header.gguf', header(0, 1) + gstr('k') + u32(ARR) + u32(U8) + b'\1\0',
         "truncated: array header of key 'k'"),
        ('truncated-array.gguf',
         header(0, 1) + gstr('k') + u32(ARR) + u32(U32) + u64(10) + u32(1) * 3,
         "key 'k': array of 10 uint32"),
        ('truncated-string-array.gguf',
         header(0, 1) + gstr('tokens') + u32(ARR) + u32(STR) + u64(3) + gstr('a') + u64(50)
         + b'b' * 30,
         "key 'tokens': string 1 of 3 has length 50"),
        ('truncated-tensor-info.gguf', one + gstr('blk.0.attn_q.weight') + u32(2) + u64(256),
         "truncated: shape of tensor 'blk.0.attn_q.weight'"),
        ('truncated-data.gguf', good[:-10], "tensor 'b': data"),
        ('huge-tensor-count.gguf', header(1 << 60, 0),
         'tensor count 1152921504606846976 exceeds the limit'),
        ('huge-kv-count.gguf', header(0, 1 << 60) + ARCH,
         'kv count 1152921504606846976 exceeds the limit'),
        ('kv-count-past-end.gguf', header(0, 1000) + ARCH,
         'kv count 1000 is more than the 45 bytes left'),
        ('tensor-count-past-end.gguf', header(100, 1) + ARCH + tensor_info('w', [32], T_F32, 0),
         'tensor count 100 is more than the %d bytes left'
         % len(tensor_info('w', [32], T_F32, 0))),
        ('huge-string-length.gguf', header(0, 1) + gstr('k') + u32(STR) + u64(1 << 62) + b'abc',
         "value of key 'k': string length 4611686018427387904"),
        ('huge-array-count.gguf',
         header(0, 1) + gstr('k') + u32(ARR) + u32(U8) + u64(1 << 62) + b'abc',
         "key 'k': array of 4611686018427387904 uint8"),
        ('huge-string-array-count.gguf',
         header(0, 1) + gstr('k') + u32(ARR) + u32(STR) + u64(1 << 61) + gstr('a'),
         "key 'k': array of 2305843009213693952 strings"),
        ('empty-key.gguf', header(0, 1) + kv('', U32, 1), 'key 0 at offset 24 is empty'),
        ('key-with-nul.gguf', header(0, 1) + kv('gen\0eral', U32, 1), 'NUL byte'),
        ('nested-array.gguf',
         header(0, 1) + gstr('k') + u32(ARR) + u32(ARR) + u64(1) + u32(U8) + u64(1) + b'x',
         "key 'k': nested arrays"),
        ('bad-value-type.gguf', header(0, 1) + gstr('k') + u32(13) + u32(0),
         "key 'k': unknown value type 13"),
        ('bad-array-type.gguf', header(0, 1) + gstr('k') + u32(ARR) + u32(200) + u64(0),
         "key 'k': unknown array element type 200"),
        ('duplicate-key.gguf', build([ARCH, kv('x', U32, 1), ARCH], []),
         "duplicate key 'general.architecture'"),
        ('alignment-0.gguf', build([kv('general.alignment', U32, 0)], []),
         'general.alignment 0 is not a power of two'),
        ('alignment-3.gguf', build([kv('general.alignment', U32, 3)], []),
         'general.alignment 3 is not a power of two'),
        ('alignment-u64.gguf', build([kv('general.alignment', U64, 32)], []),
         'general.alignment has type uint64'),
        ('n-dims-0.gguf', one_tensor_file('w', [], T_F32, 0, 128), "tensor 'w': 0 dimensions"),
        ('n-dims-5.gguf', one_tensor_file('w', [1] * 5, T_F32, 0, 128),
         "tensor 'w': 5 dimensions"),
        ('zero-dim.gguf', one_tensor_file('w', [32, 0], T_F32, 0, 0),
         "tensor 'w': dimension 1 is 0"),
        ('ne-overflow.gguf', one_tensor_file('w', [1 << 32, 1 << 31], T_F32, 0, 0),
         "tensor 'w': element count overflows"),
        ('empty-tensor-name.gguf', one_tensor_file('', [32], T_F32, 0, 128), 'is empty'),
        ('long-tensor-name.gguf', one_tensor_file('n' * 257, [32], T_F32, 0, 128),
         'is 257 bytes long (at most 256 allowed)'),
        ('bad-tensor-type.gguf', one_tensor_file('w', [32], (99, 1, 1), 0, 128),
         "tensor 'w': unknown or unsupported type id 99"),
        ('ternary-tensor-type.gguf', one_tensor_file('w', [256], (35, 256, 66), 0, 66),
         "tensor 'w': unknown or unsupported type id 35"),
        ('activation-tensor-type.gguf', one_tensor_file('w', [256], T_Q8_K, 0, 292),
         "tensor 'w': type q8_K (id 15) is not supported"),
        ('row-not-block-multiple.gguf', one_tensor_file('blk.0.ffn_down.weight', [128, 2], T_Q4_K,
                                                         0, 1024),
         "tensor 'blk.0.ffn_down.weight': row length 128 is not a multiple of the q4_K block "
         "length 256"),
        ('misaligned-offset.gguf', one_tensor_file('w', [4], T_F32, 16, 64),
         "tensor 'w': offset 16 is not a multiple of the alignment 32"),
        ('offset-past-end.gguf', one_tensor_file('w', [32], T_F32, 1 << 40, 128),
         "tensor 'w': data ["),
        ('data-past-end.gguf', past_end,
         "tensor 'blk.0.attn_q.weight': data [%d, %d) extends past end of file (size %d)"
         % (past_begin, past_begin + 64 * 64 * 4, len(past_end))),
        ('duplicate-tensor.gguf', build([ARCH], [('w', [32], T_F32), ('w', [32], T_F32)]),
         "duplicate tensor name 'w'"),
    ]
    # Two tensors sharing bytes: "a" is [0, 128), "b" starts at 64.
    overlap = pad(header(2, 1) + ARCH + tensor_info('a', [32], T_F32, 0)
                  + tensor_info('b', [32], T_F32, 64)) + b'\1' * 192
    files.append(('overlapping-tensors.gguf', overlap,
                  "tensors 'a' [0, 128) and 'b' [64, 192) overlap"))
    return files


def seed_files():
    tokens = ['<unk>', 'a', 'b', 'ab', 'Ġthe', '<think>', '</think>', '<｜User｜>']
    model_kvs = [
        ARCH,
        kv('general.name', STR, 'seed'),
        kv('qwen2.block_count', U32, 1),
        kv('qwen2.embedding_length', U32, 256),
        kv('qwen2.rope.freq_base', F32, 1000000.0),
        kv('tokenizer.ggml.model', STR, 'gpt2'),
        kv('tokenizer.ggml.tokens', ARR, (STR, tokens)),
        kv('tokenizer.ggml.token_type', ARR, (I32, [1] * len(tokens))),
        kv('tokenizer.ggml.merges', ARR, (STR, ['a b'])),
        kv('tokenizer.ggml.add_bos_token', BOOL, True),
    ]
    every_type = [kv('t.%d' % t, t, v) for t, v in [
        (U8, 200), (I8, -100), (U16, 60000), (I16, -30000), (U32, 4000000000), (I32, -5),
        (F32, 1.5), (BOOL, False), (STR, 'h\u00e9llo'), (U64, 1 << 63), (I64, -1 << 62),
        (F64, -2.25)]]
    every_type += [kv('a.%d' % t, ARR, (t, v)) for t, v in [
        (U8, [1, 2]), (I8, [-1]), (U16, [3]), (I16, [-4]), (U32, [5]), (I32, [-6]),
        (F32, [0.5]), (BOOL, [True, False]), (STR, ['x', '']), (U64, [7]), (I64, [-8]),
        (F64, [9.0])]]
    every_type.append(kv('a.empty', ARR, (I32, [])))
    return [
        ('minimal.gguf', header(0, 0)),
        ('arch-only-v2.gguf', header(0, 1, version=2) + ARCH),
        ('every-value-type.gguf', build(every_type, [('w', [4], T_F32)])),
        ('tiny-model.gguf', build(model_kvs, [
            ('token_embd.weight', [256, 8], T_Q8_0),
            ('blk.0.attn_norm.weight', [256], T_F32),
            ('blk.0.attn_q.weight', [256, 2], T_Q4_K),
            ('blk.0.ffn_down.weight', [256, 2], T_Q6_K),
            ('output.weight', [64, 2], T_Q4_0),
            ('blk.0.ffn_up.weight', [8, 2], T_F16),
            ('blk.0.ffn_gate.weight', [8, 2], T_BF16),
        ], seed=1)),
        ('aligned-64.gguf', build([ARCH, kv('general.alignment', U32, 64)],
                                  [('a', [3], T_F32), ('b', [5, 2, 1, 3], T_F16)], alignment=64,
                                  seed=2)),
    ]


def float_bytes(ttype, values):
    """VALUES as F32, F16 or BF16 bytes."""
    if ttype == T_F32:
        return struct.pack('<%df' % len(values), *values)
    if ttype == T_F16:
        return struct.pack('<%de' % len(values), *values)
    return b''.join(struct.pack('<f', v)[2:] for v in values)  # BF16: the high half


def model_tensor_data(rng, ne, ttype, norm):
    """Data for a model tensor: ones for norms, small random values for float weights, random
    blocks (quants and scales alike) for quantized ones."""
    n = 1
    for d in ne:
        n *= d
    if norm:
        return float_bytes(ttype, [1.0] * n)
    if ttype in (T_F32, T_F16, T_BF16):
        return float_bytes(ttype, [rng.uniform(-0.5, 0.5) for _ in range(n)])
    return bytes(rng.getrandbits(8) for _ in range(tensor_bytes(ne, ttype)))


def gpt2_byte_tokens():
    """The 256 byte tokens of a byte-level BPE vocabulary, in GPT-2's printable mapping."""
    printable = (list(range(ord('!'), ord('~') + 1)) + list(range(0xA1, 0xAD)) +
                 list(range(0xAE, 0x100)))
    shifted, tokens = 0, []
    for b in range(256):
        if b in printable:
            tokens.append(chr(b))
        else:
            tokens.append(chr(256 + shifted))
            shifted += 1
    return tokens


R1_MARKERS = ['<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>', '<｜User｜>', '<｜Assistant｜>',
              '<|EOT|>', '<think>', '</think>']


def tiny_model(arch, weight_type, seed, n_vocab=None):
    """A whole model that loads and runs: one layer, embedding 32, 4 heads (2 KV) of 8, a
    ~300-token vocabulary. attn_q and ffn_down are WEIGHT_TYPE (with a 256-element block only
    ffn_down, whose rows are the 256 of the feed-forward), the other matrices Q4_0, the
    smallest: every matrix goes through the same product, so one of a type covers its kernels.
    The embedding is Q4_0 and tied, except in the Q8_0 model, which has an output head."""
    n_embd, n_head, n_head_kv, head_dim = 32, 4, 2, 8
    k_quant = weight_type[1] == 256
    n_ff = 256 if k_quant else 32
    merges = [('Ġ', 't'), ('h', 'e'), ('i', 'n'), ('Ġt', 'he'), ('e', 'r'), ('Ġ', 'a'),
              ('o', 'n'), ('r', 'e'), ('Ġ', 's'), ('a', 't'), ('e', 'n'), ('Ġ', 'w'),
              ('o', 'r'), ('i', 's'), ('Ġ', 'c'), ('Ġ', 'f'), ('Ġ', 'p'), ('a', 'n'),
              ('Ġ', 'b'), ('e', 's'), ('Ġ', 'o'), ('i', 't'), ('Ġ', 'm'), ('Ġ', 'd')]
    tokens = gpt2_byte_tokens() + [a + b for a, b in merges]
    types = [1] * len(tokens)
    first_marker = len(tokens)
    tokens += R1_MARKERS
    types += [3, 3, 4, 4, 3, 4, 4]  # control and user-defined, as R1's GGUF files have them
    n_vocab = n_vocab or len(tokens) + 5  # a few padding rows, like the real models
    kvs = [
        ('general.architecture', STR, arch),
        ('general.name', STR, 'tiny %s %d' % (arch, weight_type[0])),
        (arch + '.block_count', U32, 1),
        (arch + '.context_length', U32, 64),
        (arch + '.embedding_length', U32, n_embd),
        (arch + '.feed_forward_length', U32, n_ff),
        (arch + '.attention.head_count', U32, n_head),
        (arch + '.attention.head_count_kv', U32, n_head_kv),
        (arch + '.rope.freq_base', F32, 10000.0),
        (arch + '.attention.layer_norm_rms_epsilon', F32, 1e-6),
        ('tokenizer.ggml.model', STR, 'gpt2'),
        ('tokenizer.ggml.pre', STR, 'deepseek-r1-qwen' if arch == 'qwen2' else 'llama-bpe'),
        ('tokenizer.ggml.tokens', ARR, (STR, tokens)),
        ('tokenizer.ggml.token_type', ARR, (I32, types)),
        ('tokenizer.ggml.merges', ARR, (STR, ['%s %s' % m for m in merges])),
        ('tokenizer.ggml.bos_token_id', U32, first_marker),
        ('tokenizer.ggml.eos_token_id', U32, first_marker + 1),
        ('tokenizer.ggml.add_bos_token', BOOL, True),
    ]
    layer_type = T_Q4_0
    q_dim, kv_dim = n_head * head_dim, n_head_kv * head_dim
    tensors = [  # (name, shape, type, is a norm)
        ('token_embd.weight', [n_embd, n_vocab], T_Q4_0, False),
        ('output_norm.weight', [n_embd], T_F32, True),
        ('blk.0.attn_norm.weight', [n_embd], T_F32, True),
        ('blk.0.attn_q.weight', [n_embd, q_dim], T_Q4_0 if k_quant else weight_type, False),
        ('blk.0.attn_k.weight', [n_embd, kv_dim], layer_type, False),
        ('blk.0.attn_v.weight', [n_embd, kv_dim], layer_type, False),
        ('blk.0.attn_output.weight', [q_dim, n_embd], layer_type, False),
        ('blk.0.ffn_norm.weight', [n_embd], T_F32, True),
        ('blk.0.ffn_gate.weight', [n_embd, n_ff], layer_type, False),
        ('blk.0.ffn_up.weight', [n_embd, n_ff], layer_type, False),
        ('blk.0.ffn_down.weight', [n_ff, n_embd], weight_type, False),
    ]
    if arch == 'qwen2':
        tensors += [('blk.0.attn_q.bias', [q_dim], T_F32, False),
                    ('blk.0.attn_k.bias', [kv_dim], T_F32, False),
                    ('blk.0.attn_v.bias', [kv_dim], T_F32, False)]
    else:
        tensors.append(('rope_freqs.weight', [head_dim // 2], T_F32, True))
    if weight_type == T_Q8_0:
        tensors.append(('output.weight', [n_embd, n_vocab], T_Q8_0, False))
    return encode_model(kvs, tensors, seed)


def odd_model_parts(arch, n_embd, n_head, n_head_kv, head_dim, n_rot, n_ff, n_vocab, n_ctx):
    """The metadata [(key, type, value)] and tensors [(name, shape, type, is a norm)] of an F32
    model of unusual shapes and no tokenizer: a head size that is not n_embd / n_head
    (attention.key_length), fewer rotated dimensions than the head has, a feed-forward narrower
    than the embedding, a context of N_CTX tokens, two layers."""
    kvs = [
        ('general.architecture', STR, arch),
        (arch + '.block_count', U32, 2),
        (arch + '.context_length', U32, n_ctx),
        (arch + '.embedding_length', U32, n_embd),
        (arch + '.feed_forward_length', U32, n_ff),
        (arch + '.attention.head_count', U32, n_head),
        (arch + '.attention.head_count_kv', U32, n_head_kv),
        (arch + '.attention.key_length', U32, head_dim),
        (arch + '.rope.dimension_count', U32, n_rot),
    ]
    q_dim, kv_dim = n_head * head_dim, n_head_kv * head_dim
    tensors = [('token_embd.weight', [n_embd, n_vocab], T_F32, False),
               ('output_norm.weight', [n_embd], T_F32, True)]
    for i in range(2):
        tensors += [('blk.%d.%s' % (i, name), ne, T_F32, norm) for name, ne, norm in [
            ('attn_norm.weight', [n_embd], True), ('attn_q.weight', [n_embd, q_dim], False),
            ('attn_k.weight', [n_embd, kv_dim], False), ('attn_v.weight', [n_embd, kv_dim], False),
            ('attn_output.weight', [q_dim, n_embd], False), ('ffn_norm.weight', [n_embd], True),
            ('ffn_gate.weight', [n_embd, n_ff], False), ('ffn_up.weight', [n_embd, n_ff], False),
            ('ffn_down.weight', [n_ff, n_embd], False)]]
    return kvs, tensors


def encode_model(kvs, tensors, seed):
    rng = random.Random(seed)
    infos, data = b'', b''
    for name, ne, ttype, norm in tensors:
        data = pad(data)
        infos += tensor_info(name, ne, ttype, len(data))
        data += model_tensor_data(rng, ne, ttype, norm)
    head = header(len(tensors), len(kvs)) + b''.join(kv(k, t, v) for k, t, v in kvs) + infos
    return pad(head) + data


def odd_model(arch, n_embd, n_head, n_head_kv, head_dim, n_rot, n_ff, n_vocab, n_ctx, seed):
    return encode_model(*odd_model_parts(arch, n_embd, n_head, n_head_kv, head_dim, n_rot, n_ff,
                                         n_vocab, n_ctx), seed)


def hostile_models():
    """(file name, bytes, fragment of the load error): models whose GGUF is well formed but
    whose metadata and tensors disagree, each made from the consistent odd qwen2 model by one
    change."""
    def variant(set_kvs=(), tensors_too=()):
        kvs, tensors = odd_model_parts('qwen2', 8, 2, 1, 6, 2, 3, 5, 64)
        for key, vtype, v in set_kvs:
            kvs = [e for e in kvs if e[0] != key] + ([(key, vtype, v)] if vtype is not None else [])
        for name, ne in tensors_too:
            tensors = [t for t in tensors if t[0] != name]
            if ne is not None:
                tensors.append((name, ne, T_F32, False))
        return encode_model(kvs, tensors, 30)

    return [
        ('embedding-length-disagrees.gguf', variant([('qwen2.embedding_length', U32, 16)]),
         "tensor 'token_embd.weight' has shape [8, 5, 1, 1], expected [16, 5]"),
        ('head-count-disagrees.gguf', variant([('qwen2.attention.head_count', U32, 4)]),
         "tensor 'blk.0.attn_q.weight' has shape [8, 12, 1, 1], expected [8, 24]"),
        ('kv-heads-do-not-divide.gguf', variant([('qwen2.attention.head_count_kv', U32, 3)]),
         '3 KV heads do not divide 2 heads'),
        ('rope-dimensions-odd.gguf', variant([('qwen2.rope.dimension_count', U32, 3)]),
         'implausible head size 6 (rotated 3)'),
        ('rope-dimensions-over-head.gguf', variant([('qwen2.rope.dimension_count', U32, 8)]),
         'implausible head size 6 (rotated 8)'),
        ('head-size-zero.gguf', variant([('qwen2.attention.key_length', U32, 0)]),
         'implausible head size 0'),
        ('feed-forward-disagrees.gguf', variant([('qwen2.feed_forward_length', U32, 4)]),
         "tensor 'blk.0.ffn_gate.weight' has shape [8, 3, 1, 1], expected [8, 4]"),
        ('layer-missing.gguf', variant([('qwen2.block_count', U32, 3)]),
         "tensor 'blk.2.attn_norm.weight' is missing"),
        ('layer-count-huge.gguf', variant([('qwen2.block_count', U32, 100000)]),
         'qwen2.block_count is 100000 (1 to 4096 allowed)'),
        ('context-zero.gguf', variant([('qwen2.context_length', U32, 0)]),
         'qwen2.context_length is 0'),
        ('embedding-length-zero.gguf', variant([('qwen2.embedding_length', U32, 0)]),
         'qwen2.embedding_length is 0'),
        ('rms-epsilon-zero.gguf', variant([('qwen2.attention.layer_norm_rms_epsilon', F32, 0.0)]),
         'implausible RMS epsilon 0 (qwen2.attention.layer_norm_rms_epsilon'),
        ('rope-base-nan.gguf', variant([('qwen2.rope.freq_base', F32, float('nan'))]),
         'implausible RoPE base nan (qwen2.rope.freq_base'),
        ('rope-base-infinite.gguf', variant([('qwen2.rope.freq_base', F32, float('inf'))]),
         'implausible RoPE base inf (qwen2.rope.freq_base'),
        ('layer-count-is-text.gguf', variant([('qwen2.block_count', STR, '2')]),
         "metadata key 'qwen2.block_count' is not an unsigned 32-bit count"),
        ('layer-count-negative.gguf', variant([('qwen2.block_count', I32, -2)]),
         "metadata key 'qwen2.block_count' is not an unsigned 32-bit count"),
        ('architecture-unknown.gguf', variant([('general.architecture', STR, 'phi3')]),
         "architecture 'phi3' is not supported"),
        ('bias-wrong-length.gguf', variant(tensors_too=[('blk.0.attn_k.bias', [12])]),
         "tensor 'blk.0.attn_k.bias' has shape [12, 1, 1, 1], expected [6, 1]"),
        ('norm-is-a-matrix.gguf', variant(tensors_too=[('blk.1.ffn_norm.weight', [8, 2])]),
         "tensor 'blk.1.ffn_norm.weight' has shape [8, 2, 1, 1], expected [8, 1]"),
        ('rope-factors-wrong-length.gguf', variant(tensors_too=[('rope_freqs.weight', [3])]),
         "tensor 'rope_freqs.weight' has shape [3, 1, 1, 1], expected [1, 1]"),
        ('output-rows-disagree.gguf', variant(tensors_too=[('output.weight', [8, 6])]),
         "tensor 'output.weight' has shape [8, 6, 1, 1], expected [8, 5]"),
        ('embedding-missing.gguf', variant(tensors_too=[('token_embd.weight', None)]),
         "tensor 'token_embd.weight' is missing"),
        ('vocabulary-larger-than-embedding.gguf', tiny_model('qwen2', T_Q4_0, 31, n_vocab=200),
         'the tokenizer has 287 tokens but the embedding only 200 rows'),
    ]


def model_seed_files():
    weight_types = [('f32', T_F32), ('f16', T_F16), ('bf16', T_BF16), ('q4_0', T_Q4_0),
                    ('q4_1', T_Q4_1), ('q5_0', T_Q5_0), ('q5_1', T_Q5_1), ('q8_0', T_Q8_0),
                    ('q2_k', T_Q2_K), ('q3_k', T_Q3_K), ('q4_k', T_Q4_K), ('q5_k', T_Q5_K),
                    ('q6_k', T_Q6_K)]
    return [('%s-%s.gguf' % (arch, name), tiny_model(arch, ttype, seed))
            for seed, (name, ttype) in enumerate(weight_types)
            for arch in (['qwen2', 'llama'][seed % 2],)] + [
        ('odd-shapes-qwen2.gguf', odd_model('qwen2', 8, 2, 1, 6, 2, 3, 5, 64, 20)),
        ('odd-shapes-llama.gguf', odd_model('llama', 4, 4, 2, 2, 0, 1, 1, 1, 21)),
    ]


def write_with_expectations(directory, files, what):
    """FILES [(name, bytes, fragment)] into DIRECTORY, and its expected-errors.txt."""
    names = [name for name, _, _ in files]
    assert len(names) == len(set(names))
    write_all(directory, [(name, data) for name, data, _ in files])
    with open(os.path.join(directory, 'expected-errors.txt'), 'w') as f:
        f.write('# %s<TAB>fragment of the error message %s must give '
                '(written by tools/make-hostile-gguf.py)\n' % what)
        for name, _, fragment in files:
            f.write('%s\t%s\n' % (name, fragment))


def write_all(directory, files):
    os.makedirs(directory, exist_ok=True)
    for name, data in files:
        with open(os.path.join(directory, name), 'wb') as f:
            f.write(data)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--hostile', default=os.path.join(root, 'tests/data/gguf-hostile'))
    parser.add_argument('--seeds', default=os.path.join(root, 'tests/fuzz/corpus-gguf'))
    parser.add_argument('--model-seeds', default=os.path.join(root, 'tests/fuzz/corpus-model'))
    parser.add_argument('--hostile-models', default=os.path.join(root, 'tests/data/model-hostile'))
    parser.add_argument('--real-prefix', help='a real GGUF file whose first 16 KiB become a seed')
    args = parser.parse_args()

    hostile = hostile_files()
    write_with_expectations(args.hostile, hostile, ('file', 'gguf_open'))

    seeds = seed_files()
    if args.real_prefix:
        with open(args.real_prefix, 'rb') as f:
            seeds.append(('real-prefix-16k.gguf', f.read(16384)))
    write_all(args.seeds, seeds)
    model_seeds = model_seed_files()
    write_all(args.model_seeds, model_seeds)
    models = hostile_models()
    write_with_expectations(args.hostile_models, models, ('model', 'loading it'))
    print('%d hostile files in %s, %d seeds in %s, %d model seeds in %s, %d hostile models in %s'
          % (len(hostile), args.hostile, len(seeds), args.seeds, len(model_seeds),
             args.model_seeds, len(models), args.hostile_models))


if __name__ == '__main__':
    main()
