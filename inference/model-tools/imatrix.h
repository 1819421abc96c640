// Importance matrices: the `--imatrix FILE` of `quantize`, as llama.cpp's llama-imatrix writes
// them.
//
// For each weight matrix of a model, an importance matrix holds the mean square of the
// activation that meets each input column over a calibration text. Rounding weight j of a row
// badly costs the matrix product about importance[j] times the squared error, so the
// quantizers weigh their scale searches by it (ponder_quantize_row_weighted).
//
// Two layouts, told apart by the GGUF magic:
// - the legacy binary `.dat` (all little-endian): int32 entry count; per entry int32 name
//   length, the name's bytes, int32 ncall, int32 nval, nval float32 values; then optionally
//   int32 chunk count, int32 length and the calibration file's name. The values are sums
//   over ncall calls of llama-imatrix's collector, so the importance is value / ncall
//   (the value itself when ncall is 0), as llama-quantize reads it;
// - GGUF (general.type "imatrix"): per weight tensor NAME, an F32 tensor "NAME.in_sum2"
//   [n, n_mat] of summed squared activations and an F32 "NAME.counts" [n_mat] of the
//   activations summed; the importance is in_sum2 / counts per matrix, 1 where a count is 0
//   (no activation reached that matrix, as llama-quantize reads it). Other tensors
//   ("NAME.in_sum") are ignored; imatrix.datasets and imatrix.chunk_count are read when
//   present.
//
// A file is read whole and checked before anything is handed out: counts and lengths against
// the bytes that are there, names (1 to 256 bytes, no control characters, no duplicates),
// values (finite and >= 0, counts too), pairs of sums and counts. Whether the entries fit a
// model is for the caller to check (quantize-model.c): names and row lengths.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ImatrixEntry {
    char *name;        // the weight tensor's name ("blk.0.attn_q.weight")
    float *importance; // [n_values]: finite, >= 0
    uint64_t n_values; // the tensor's row length (times its matrix count for 3-D tensors)
} ImatrixEntry;

typedef struct Imatrix {
    bool legacy; // read from the .dat layout
    uint64_t n_entries;
    ImatrixEntry *entries; // sorted by name
    char *dataset;         // the (first) calibration file's name, or NULL
    uint32_t n_chunks;     // chunks it was computed from (0: not recorded)
} Imatrix;

// Reads PATH (either layout). NULL with a message naming PATH in ERR on failure.
Imatrix *imatrix_load(const char *path, char *err, size_t err_size);
// The same from an image in memory (for tests); NAME stands for the path in messages.
Imatrix *imatrix_load_memory(const void *data, size_t size, const char *name, char *err,
                             size_t err_size);
void imatrix_free(Imatrix *imatrix);

// The entry for tensor NAME, or NULL.
const ImatrixEntry *imatrix_find(const Imatrix *imatrix, const char *name);
