#!/usr/bin/env python3
"""Writes importance-matrix files in llama.cpp's two layouts, for the tests of `quantize
--imatrix` (tests/inference/test-imatrix.c, tests/inference/test-quantize-imatrix.sh).

A writer independent of Ponder's reader, from the layouts as llama.cpp's tools/imatrix and
tools/quantize define them:
- legacy `.dat` (little-endian): int32 entry count; per entry int32 name length, the name,
  int32 ncall, int32 nval, nval float32 sums; then optionally int32 chunk count, int32
  length and the calibration file's name. A reader's importance is sum / ncall (the sum
  itself when ncall is 0);
- GGUF v3 with general.type "imatrix", imatrix.datasets, imatrix.chunk_count and
  imatrix.chunk_size, and per weight NAME the F32 tensors NAME.in_sum2 [n, n_mat] (summed
  squared activations), NAME.counts [1, n_mat] (activations summed) and NAME.in_sum [n, n_mat]
  (summed activations, which quantizing ignores). Importance: in_sum2 / counts, 1 where a
  count is 0.

Written into OUTDIR:
- manifest.txt, one line per file: `good FILE EXPECTED` (EXPECTED: the importance a reader
  must return, see write_expected), `bad FILE FRAGMENT` (reading must fail with a message
  containing FRAGMENT) or `model FILE FRAGMENT` (the file reads, but quantizing the tiny llama
  -- 2 layers, embedding 256, feed-forward 512, as synth's tiny-llama and tests/data/hf-tiny-llama
  -- with it must fail with FRAGMENT);
- tiny-llama.dat and tiny-llama.gguf: importance matrices of that tiny llama (every matrix but
  token_embd) with the same importance in both, which favours every eighth column and a few
  random ones a hundredfold.

Usage: tools/make-imatrix-fixtures.py OUTDIR [--stamp FILE]
Only the Python standard library is used; the output is deterministic.
"""

import argparse
import math
import os
import random
import struct

# ---- float32 arithmetic -------------------------------------------------------------------


def f32(x):
    """X rounded to float32 (as a Python float)."""
    return struct.unpack('<f', struct.pack('<f', x))[0]


def f32_div(a, b):
    """The float32 quotient of float32 A and B: a double quotient rounded once more to float32
    is the correctly rounded float32 one (53 >= 2 * 24 + 2 bits)."""
    return f32(f32(a) / f32(b))


# ---- the legacy layout --------------------------------------------------------------------


def i32(v):
    return struct.pack('<i', v)


def floats(values):
    return b''.join(struct.pack('<f', v) for v in values)


def dat_entry(name, ncall, values, nval=None):
    raw = name.encode() if isinstance(name, str) else name
    return (i32(len(raw)) + raw + i32(ncall) + i32(len(values) if nval is None else nval)
            + floats(values))


def dat(entries, chunks=None, dataset=None, count=None):
    """ENTRIES: (name, ncall, sums); with CHUNKS, the trailer (chunk count, dataset name)."""
    out = i32(len(entries) if count is None else count)
    out += b''.join(dat_entry(*e) for e in entries)
    if chunks is not None:
        raw = dataset.encode()
        out += i32(chunks) + i32(len(raw)) + raw
    return out


# ---- the GGUF layout ----------------------------------------------------------------------

U32, I32, F32_VALUE, STR, ARR = 4, 5, 6, 8, 9
T_F32, T_F16 = 0, 1
ALIGNMENT = 32


def u32(v):
    return struct.pack('<I', v)


def u64(v):
    return struct.pack('<Q', v)


def gstr(s):
    raw = s.encode()
    return u64(len(raw)) + raw


def kv_str(key, s):
    return gstr(key) + u32(STR) + gstr(s)


def kv_u32(key, v):
    return gstr(key) + u32(U32) + u32(v)


def kv_strings(key, items):
    return gstr(key) + u32(ARR) + u32(STR) + u64(len(items)) + b''.join(gstr(s) for s in items)


def imatrix_kvs(datasets=('wiki.train.raw',), chunks=10, chunk_size=512):
    return [kv_str('general.type', 'imatrix'), kv_strings('imatrix.datasets', list(datasets)),
            kv_u32('imatrix.chunk_count', chunks), kv_u32('imatrix.chunk_size', chunk_size)]


def gguf(kvs, tensors):
    """TENSORS: (name, ne, values) stored as F32, or (name, ne, values, T_F16) as F16. Shapes
    are written as ggml does: trailing dimensions of 1 dropped."""
    infos, data = b'', b''
    for t in tensors:
        name, ne, values = t[:3]
        ttype = t[3] if len(t) > 3 else T_F32
        while len(ne) > 1 and ne[-1] == 1:
            ne = ne[:-1]
        data += b'\0' * (-len(data) % ALIGNMENT)
        infos += gstr(name) + u32(len(ne)) + b''.join(u64(n) for n in ne) + u32(ttype)
        infos += u64(len(data))
        if ttype == T_F32:
            data += floats(values)
        else:
            data += b''.join(struct.pack('<e', v) for v in values)
    head = b'GGUF' + u32(3) + u64(len(tensors)) + u64(len(kvs)) + b''.join(kvs) + infos
    head += b'\0' * (-len(head) % ALIGNMENT)
    return head + data


def gguf_entry(name, sums, counts, n_mat=1, with_in_sum=True):
    """The tensors of one weight: SUMS holds n_mat rows of squared sums, COUNTS n_mat counts."""
    n = len(sums) // n_mat
    tensors = [(name + '.in_sum2', [n, n_mat], sums), (name + '.counts', [1, n_mat], counts)]
    if with_in_sum:  # llama-imatrix writes it since 2025; quantizing ignores it
        tensors.append((name + '.in_sum', [n, n_mat], [math.sqrt(s) for s in sums]))
    return tensors


# ---- expected importance ------------------------------------------------------------------


def write_expected(path, legacy, dataset, chunks, entries):
    """ENTRIES: (name, importance). Lines: `legacy 0|1`, `chunks N`, `dataset NAME` (absent
    without one), then per entry `entry NAME N` and its N float32 values, one per line, as
    the 8 hexadecimal digits of their bits (exact, and no locale in the way)."""
    lines = [f'legacy {int(legacy)}', f'chunks {chunks}']
    if dataset is not None:
        lines.append(f'dataset {dataset}')
    for name, importance in sorted(entries):
        lines.append(f'entry {name} {len(importance)}')
        lines += ['%08x' % struct.unpack('<I', struct.pack('<f', v))[0] for v in importance]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def legacy_importance(ncall, sums):
    sums = [f32(s) for s in sums]
    return [f32_div(s, ncall) for s in sums] if ncall > 0 else sums


def gguf_importance(sums, counts):
    n = len(sums) // len(counts)
    return [f32_div(sums[m * n + k], counts[m]) if counts[m] > 0 else 1.0
            for m in range(len(counts)) for k in range(n)]


# ---- the files ----------------------------------------------------------------------------


def good_files(rng):
    """(file name, bytes, expected-file name, legacy, dataset, chunks, [(name, importance)])"""
    def sums(n):
        return [f32(rng.uniform(0.0, 50.0)) for _ in range(n)]

    # legacy, with the trailer; names out of order (readers sort them)
    a, b, c = sums(8), sums(5), sums(4)
    entries = [('output.weight', 7, c), ('blk.0.attn_q.weight', 3, a),
               ('blk.0.ffn_down.weight', 0, b)]
    files = [('good.dat', dat(entries, chunks=12, dataset='calibration data/wiki.train.raw'),
              'good.dat.expected', True, 'calibration data/wiki.train.raw', 12,
              [(n, legacy_importance(k, s)) for n, k, s in entries])]
    # legacy as written before 2024: no trailer
    entries = [('blk.1.attn_v.weight', 1, sums(16))]
    files.append(('good-old.dat', dat(entries), 'good-old.dat.expected', True, None, 0,
                  [(n, legacy_importance(k, s)) for n, k, s in entries]))

    # GGUF: a plain matrix, one no activation reached (count 0), a 3-D one (one count 0)
    k_sums, up_sums, exps_sums = sums(6), sums(3), sums(12)
    k_counts, up_counts, exps_counts = [2048.0], [0.0], [96.0, 0.0, 40.0]
    tensors = (gguf_entry('blk.1.ffn_up.weight', up_sums, up_counts)
               + gguf_entry('blk.0.attn_k.weight', k_sums, k_counts, with_in_sum=False)
               + gguf_entry('blk.0.ffn_gate_exps.weight', exps_sums, exps_counts, n_mat=3))
    files.append(('good.gguf', gguf(imatrix_kvs(('wiki.train.raw', 'code.txt'), 10), tensors),
                  'good.gguf.expected', False, 'wiki.train.raw', 10,
                  [('blk.1.ffn_up.weight', gguf_importance(up_sums, up_counts)),
                   ('blk.0.attn_k.weight', gguf_importance(k_sums, k_counts)),
                   ('blk.0.ffn_gate_exps.weight', gguf_importance(exps_sums, exps_counts))]))
    # GGUF without any metadata
    q_sums = sums(4)
    files.append(('good-bare.gguf', gguf([], gguf_entry('blk.0.attn_q.weight', q_sums, [3.0])),
                  'good-bare.gguf.expected', False, None, 0,
                  [('blk.0.attn_q.weight', gguf_importance(q_sums, [3.0]))]))
    return files


def bad_files():
    """(file name, bytes, fragment of the expected error message)"""
    one = [('blk.0.attn_q.weight', 2, [1.0, 2.0])]
    good = dat(one)
    nan, inf = float('nan'), float('inf')
    files = [
        ('empty.dat', b'', 'too short'),
        ('short.dat', b'\1\0', 'too short'),
        ('zero-entries.dat', i32(0), '0 entries'),
        ('negative-entries.dat', i32(-5) + good[4:], '-5 entries'),
        ('huge-entries.dat', i32(0x7fffffff) + good[4:], '2147483647 entries'),
        ('name-empty.dat', dat([('', 1, [1.0, 2.0])]), 'a name of 0 bytes'),
        ('name-huge.dat', i32(1) + i32(100000) + b'x' * 300, 'a name of 100000 bytes'),
        ('name-past-end.dat', i32(1) + i32(200) + b'blk.0' + b'\0' * 14, 'runs past the end'),
        ('name-control.dat', dat([('blk.0.attn\nq', 1, [1.0])]), 'control character'),
        ('nval-missing.dat', i32(1) + i32(10) + b'blk.0.attn' + i32(1),
         'ends before its value count'),
        ('ncall-negative.dat', dat([('blk.0.attn_q.weight', -1, [1.0])]), 'ncall is -1'),
        ('nval-zero.dat', dat([('blk.0.attn_q.weight', 1, [])]) + b'\0' * 8, '0 values'),
        ('nval-past-end.dat', dat([('blk.0.attn_q.weight', 1, [1.0, 2.0], 1000)]),
         '1000 values run past the end'),
        ('value-nan.dat', dat([('blk.0.attn_q.weight', 1, [1.0, nan])]), 'value 1 is nan'),
        ('value-inf.dat', dat([('blk.0.attn_q.weight', 1, [inf])]), 'value 0 is inf'),
        ('value-negative.dat', dat([('blk.0.attn_q.weight', 1, [1.0, -0.5])]),
         'value 1 is -0.5'),
        ('duplicate.dat', dat(one + [('blk.0.attn_k.weight', 1, [1.0])] + one),
         "'blk.0.attn_q.weight' appears twice"),
        ('stray-bytes.dat', good + b'\1\2\3', '3 stray bytes'),
        ('trailer-past-end.dat', good + i32(5) + i32(100) + b'wiki', '100-byte dataset name'),
        ('trailer-negative.dat', good + i32(-2) + i32(0), 'chunk count of -2'),
        ('dataset-nul.dat', dat(one, chunks=1, dataset='a\0b'), 'NUL byte'),
        ('gguf-truncated.gguf',
         gguf(imatrix_kvs(), gguf_entry('blk.0.attn_q.weight', [1.0] * 64, [1.0]))[:-40],
         "tensor 'blk.0.attn_q.weight.in_sum"),
        ('gguf-model.gguf', gguf([kv_str('general.type', 'model')],
                                 [('blk.0.attn_q.weight', [4, 4], [0.5] * 16)]),
         "general.type is 'model', not an importance matrix"),
        ('gguf-no-sums.gguf', gguf(imatrix_kvs(), [('blk.0.attn_q.weight', [4], [1.0] * 4)]),
         'no importance data'),
        ('gguf-sums-alone.gguf',
         gguf(imatrix_kvs(), [('blk.0.attn_q.weight.in_sum2', [4], [1.0] * 4)]),
         "'blk.0.attn_q.weight.in_sum2' has no 'blk.0.attn_q.weight.counts'"),
        ('gguf-counts-alone.gguf',
         gguf(imatrix_kvs(), gguf_entry('blk.0.attn_q.weight', [1.0] * 4, [2.0])
              + [('blk.0.attn_k.weight.counts', [1], [2.0])]),
         "'blk.0.attn_k.weight.counts' has no 'blk.0.attn_k.weight.in_sum2'"),
        ('gguf-f16.gguf', gguf(imatrix_kvs(), [('blk.0.attn_q.weight.in_sum2', [4], [1.0] * 4,
                                                T_F16),
                                               ('blk.0.attn_q.weight.counts', [1], [2.0])]),
         'sums and counts must be F32'),
        ('gguf-count-shape.gguf', gguf(imatrix_kvs(), [
            ('blk.0.attn_q.weight.in_sum2', [4, 2], [1.0] * 8),
            ('blk.0.attn_q.weight.counts', [1], [2.0])]), '1 counts for 2 matrices'),
        ('gguf-sum-nan.gguf', gguf(imatrix_kvs(), gguf_entry('blk.0.attn_q.weight',
                                                             [1.0, nan, 1.0], [2.0])),
         'sum 1 is nan'),
        ('gguf-count-negative.gguf',
         gguf(imatrix_kvs(), gguf_entry('blk.0.attn_q.weight', [1.0, 2.0], [-1.0])),
         'count 0 is -1'),
        ('gguf-overflow.gguf',
         gguf(imatrix_kvs(), gguf_entry('blk.0.attn_q.weight', [3e38, 2.0], [1e-3])),
         'overflows'),
        ('gguf-empty-name.gguf', gguf(imatrix_kvs(), gguf_entry('', [1.0], [1.0])),
         'a name of 0 bytes'),
    ]
    return files


# The tiny llama's matrices (name, row length) that llama-imatrix sees.
TINY_LLAMA_EMBD, TINY_LLAMA_FF, TINY_LLAMA_LAYERS = 256, 512, 2


def tiny_llama_matrices():
    out = [('output.weight', TINY_LLAMA_EMBD)]
    for layer in range(TINY_LLAMA_LAYERS):
        for m in ('attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up'):
            out.append((f'blk.{layer}.{m}.weight', TINY_LLAMA_EMBD))
        out.append((f'blk.{layer}.ffn_down.weight', TINY_LLAMA_FF))
    return out


def model_files():
    """Files that read well but do not fit the tiny llama: (file name, bytes, fragment)."""
    return [
        ('unknown-name.dat', dat([('blk.0.attn_q.weight', 1, [1.0] * TINY_LLAMA_EMBD),
                                  ('blk.9.attn_q.weight', 1, [1.0] * TINY_LLAMA_EMBD)]),
         "'blk.9.attn_q.weight' names no tensor"),
        ('wrong-length.gguf', gguf(imatrix_kvs(), gguf_entry('blk.1.ffn_down.weight',
                                                             [1.0] * TINY_LLAMA_EMBD, [4.0])),
         "'blk.1.ffn_down.weight' has 256 values, but the tensor's rows have 512"),
    ]


def tiny_llama_imatrix(rng):
    """The tiny llama's importance matrix in both layouts (the same importance)."""
    ncall, count = 4, 2048.0
    entries, tensors = [], []
    for name, n in tiny_llama_matrices():
        importance = [f32((100.0 if j % 8 == 0 or rng.random() < 1 / 16 else 1.0)
                          * rng.uniform(0.5, 1.5)) for j in range(n)]
        # ncall and count powers of two: sum / ncall gives the importance back exactly
        entries.append((name, ncall, [v * ncall for v in importance]))
        tensors += gguf_entry(name, [v * count for v in importance], [count])
    return (dat(entries, chunks=4, dataset='tiny.txt'),
            gguf(imatrix_kvs(('tiny.txt',), 4), tensors))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('outdir')
    parser.add_argument('--stamp', help='touch this file when done (for Meson)')
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    rng = random.Random(12)

    def write(name, data):
        with open(os.path.join(args.outdir, name), 'wb') as f:
            f.write(data)

    manifest = []
    for name, data, expected, legacy, dataset, chunks, entries in good_files(rng):
        write(name, data)
        write_expected(os.path.join(args.outdir, expected), legacy, dataset, chunks, entries)
        manifest.append(f'good {name} {expected}')
    for name, data, fragment in bad_files():
        write(name, data)
        manifest.append(f'bad {name} {fragment}')
    for name, data, fragment in model_files():
        write(name, data)
        manifest.append(f'model {name} {fragment}')
    legacy, gguf_file = tiny_llama_imatrix(rng)
    write('tiny-llama.dat', legacy)
    write('tiny-llama.gguf', gguf_file)
    with open(os.path.join(args.outdir, 'manifest.txt'), 'w') as f:
        f.write('\n'.join(manifest) + '\n')
    if args.stamp:
        with open(args.stamp, 'w') as f:
            f.write('')


if __name__ == '__main__':
    main()
