// `quantize`: rewrites a GGUF model in another type or llama.cpp-style mix.
//
// Every metadata key is kept (general.file_type and general.quantization_version are set
// as llama-quantize sets them). Each tensor gets the type quant-mix.h picks; a tensor whose
// type does not change is copied byte for byte, any other is dequantized to F32 row by row
// and quantized again, on several threads, inside the writer's fill callback, so only one
// output tensor is in memory at a time.
//
// With an importance matrix (imatrix.h), each matrix it has an entry for is quantized with
// that entry's column importance weighing the scale searches (ponder_quantize_row_weighted),
// a few mix rules change as llama.cpp's do, and the quantize.imatrix.* keys llama-quantize
// writes record the file. A matrix without an entry is quantized as without the file, as in
// llama.cpp; an entry that names no tensor of the model, or whose length is not its rows',
// is refused (llama.cpp skips the first kind: here both say "another model's file").
#include "formats/gguf.h"
#include "imatrix.h"
#include "model-files.h"
#include "quant-mix.h"
#include "runtime/error-text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GGML_QUANT_VERSION = 2 };

typedef struct TensorJob {
    const GgufTensor *src;
    PonderType type;
    uint64_t row_len, n_rows;
    uint64_t src_row_bytes, dst_row_bytes;
    const float *importance;  // [n_matrices][row_len] from the importance matrix, or NULL
    uint64_t rows_per_matrix; // ne[1]: rows of one matrix of a 3-D tensor
    uint8_t *dst;
    int n_threads;
} TensorJob;

static void requantize_rows(void *arg, uint64_t first_row, uint64_t n_rows, float *scratch)
{
    const TensorJob *job = arg;
    const uint8_t *src = job->src->data;
    for (uint64_t r = first_row; r < first_row + n_rows; r++) {
        const float *importance =
            job->importance ? job->importance + r / job->rows_per_matrix * job->row_len : NULL;
        ponder_dequantize_row(job->src->type, src + r * job->src_row_bytes, scratch,
                              (int64_t)job->row_len);
        ponder_quantize_row_weighted(job->type, scratch, job->dst + r * job->dst_row_bytes,
                                     (int64_t)job->row_len, importance);
    }
}

static bool fill_requantized(void *user, void *dst, uint64_t n_bytes, char *err, size_t err_size)
{
    TensorJob *job = user;
    if (n_bytes != job->n_rows * job->dst_row_bytes) {
        snprintf(err, err_size, "size mismatch (%llu bytes planned, %llu asked)",
                 (unsigned long long)(job->n_rows * job->dst_row_bytes),
                 (unsigned long long)n_bytes);
        return false;
    }
    job->dst = dst;
    if (!quant_rows_parallel(job->n_rows, job->row_len, job->n_threads, requantize_rows, job)) {
        snprintf(err, err_size, "out of memory for conversion buffers");
        return false;
    }
    return true;
}

static uint32_t get_u32_or(const GgufFile *f, const char *arch, const char *suffix,
                           uint32_t fallback)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint32_t v;
    return gguf_get_u32(f, key, &v) ? v : fallback;
}

// What the mix rules need to know, from the metadata (the layer count from the tensor
// names when block_count is missing).
static void read_model_facts(const GgufFile *f, char *arch, size_t arch_size, QuantMixModel *m)
{
    GgufString s;
    if (gguf_get_string(f, "general.architecture", &s))
        gguf_string_copy(s, arch, arch_size);
    else
        arch[0] = '\0';
    uint32_t layers_seen = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        char name[300];
        unsigned layer;
        gguf_string_copy(f->tensors[i].name, name, sizeof name);
        if (sscanf(name, "blk.%u.", &layer) == 1 && layer + 1 > layers_seen)
            layers_seen = layer + 1;
    }
    m->arch = arch;
    m->n_layer = get_u32_or(f, arch, "block_count", layers_seen);
    m->n_head = get_u32_or(f, arch, "attention.head_count", 1);
    m->n_head_kv = get_u32_or(f, arch, "attention.head_count_kv", m->n_head);
    m->has_output = gguf_find_tensor(f, "output.weight") != NULL;
}

// Values of an importance-matrix entry for tensor T: one row's worth per matrix.
static uint64_t importance_length(const GgufTensor *t)
{
    return t->n_elements / t->ne[1];
}

// Every entry of IM must name a tensor of IN and have its length, except token_embd.weight,
// whose entry llama.cpp leaves unused when it does not fit (importance_for does too).
static bool check_imatrix(const Imatrix *im, const char *im_path, const GgufFile *in,
                          const char *in_path, char *err, size_t err_size)
{
    for (uint64_t i = 0; i < im->n_entries; i++) {
        const ImatrixEntry *e = &im->entries[i];
        const GgufTensor *t = gguf_find_tensor(in, e->name);
        if (!t)
            return ponder_failf(err, err_size,
                                "%s: entry '%s' names no tensor of %s (an importance matrix of "
                                "another model?)",
                                im_path, e->name, in_path);
        uint64_t want = importance_length(t), n_matrices = want / t->ne[0];
        if (e->n_values == want || strcmp(e->name, "token_embd.weight") == 0)
            continue;
        if (n_matrices == 1)
            return ponder_failf(err, err_size,
                                "%s: entry '%s' has %llu values, but the tensor's rows have %llu "
                                "(an importance matrix of another model?)",
                                im_path, e->name, (unsigned long long)e->n_values,
                                (unsigned long long)want);
        return ponder_failf(err, err_size,
                            "%s: entry '%s' has %llu values, but the tensor has %llu matrices "
                            "with rows of %llu",
                            im_path, e->name, (unsigned long long)e->n_values,
                            (unsigned long long)n_matrices, (unsigned long long)t->ne[0]);
    }
    return true;
}

static const float *importance_for(const Imatrix *im, const char *name, const GgufTensor *t)
{
    const ImatrixEntry *e = imatrix_find(im, name);
    return e && e->n_values == importance_length(t) ? e->importance : NULL;
}

// The keys llama-quantize adds when it quantizes with an importance matrix.
static void record_imatrix(GgufWriter *writer, const Imatrix *im, const char *im_path)
{
    gguf_writer_set_string(writer, "quantize.imatrix.file", im_path);
    if (im->dataset)
        gguf_writer_set_string(writer, "quantize.imatrix.dataset", im->dataset);
    gguf_writer_set_u32(writer, "quantize.imatrix.entries_count",
                        im->n_entries < UINT32_MAX ? (uint32_t)im->n_entries : UINT32_MAX);
    if (im->n_chunks > 0)
        gguf_writer_set_u32(writer, "quantize.imatrix.chunks_count", im->n_chunks);
}

bool quantize_gguf(const char *in_path, const char *out_path, const char *type,
                   const char *imatrix_path, int n_threads, char *err, size_t err_size)
{
    const QuantMix *mix = quant_mix_find(type);
    if (!mix)
        return ponder_failf(err, err_size, "unknown type '%s' (expected one of: %s)",
                            type ? type : "", quant_mix_names());
    if (!quant_mix_can_quantize(mix))
        return ponder_failf(err, err_size,
                            "type '%s': Ponder cannot write %s tensors yet, with or without an "
                            "importance matrix (llama.cpp's llama-quantize writes them %s); the "
                            "types it writes: %s",
                            mix->name, ponder_type_traits(mix->base)->name,
                            quant_mix_needs_imatrix(mix) ? "only with one, --imatrix"
                                                         : "without one",
                            quant_mix_quantizable_names());
    char reason[512] = "";
    GgufFile *in = gguf_open(in_path, reason, sizeof reason);
    if (!in)
        return ponder_failf(err, err_size, "%s", reason);
    Imatrix *im = NULL;
    if (imatrix_path && (!(im = imatrix_load(imatrix_path, err, err_size)) ||
                         !check_imatrix(im, imatrix_path, in, in_path, err, err_size))) {
        imatrix_free(im);
        gguf_close(in);
        return false;
    }

    char arch[64];
    QuantMixModel model;
    read_model_facts(in, arch, sizeof arch, &model);
    model.has_imatrix = im != NULL;

    GgufWriter *writer = gguf_writer_new();
    TensorJob *jobs = calloc(in->n_tensors ? in->n_tensors : 1, sizeof *jobs);
    if (!writer || !jobs) {
        gguf_writer_free(writer);
        free(jobs);
        imatrix_free(im);
        gguf_close(in);
        return ponder_failf(err, err_size, "out of memory");
    }
    gguf_writer_copy_kv(writer, in); // general.alignment, when present, sets the alignment
    if (in->alignment != GGUF_DEFAULT_ALIGNMENT && !gguf_find_kv(in, "general.alignment"))
        gguf_writer_set_alignment(writer, in->alignment);
    gguf_writer_set_u32(writer, "general.quantization_version", GGML_QUANT_VERSION);
    gguf_writer_set_u32(writer, "general.file_type", mix->file_type);
    if (im)
        record_imatrix(writer, im, imatrix_path);

    bool ok = true;
    for (uint64_t i = 0; i < in->n_tensors && ok; i++) {
        const GgufTensor *t = &in->tensors[i];
        char name[300];
        gguf_string_copy(t->name, name, sizeof name);
        PonderType to = quant_mix_tensor_type(mix, &model, name, t->n_dims, t->ne, t->type);
        if (to == t->type) {
            gguf_writer_add_tensor(writer, name, t->type, t->n_dims, t->ne, t->data);
            continue;
        }
        TensorJob *job = &jobs[i];
        *job = (TensorJob){.src = t,
                           .type = to,
                           .row_len = t->ne[0],
                           .importance = im ? importance_for(im, name, t) : NULL,
                           .rows_per_matrix = t->ne[1],
                           .n_threads = n_threads};
        job->n_rows = t->n_elements / t->ne[0];
        if (!ponder_can_quantize(to) ||
            !ponder_row_bytes(t->type, job->row_len, &job->src_row_bytes) ||
            !ponder_row_bytes(to, job->row_len, &job->dst_row_bytes)) {
            ok = ponder_failf(err, err_size,
                              "%s: tensor '%s': rows of %llu cannot be converted to %s", in_path,
                              name, (unsigned long long)job->row_len,
                              ponder_type_traits(to) ? ponder_type_traits(to)->name : "?");
            break;
        }
        gguf_writer_add_tensor_fill(writer, name, to, t->n_dims, t->ne, fill_requantized, job);
    }
    if (ok && !gguf_writer_write(writer, out_path, reason, sizeof reason))
        ok = ponder_failf(err, err_size, "%s", reason);

    gguf_writer_free(writer);
    free(jobs);
    imatrix_free(im);
    gguf_close(in);
    return ok;
}
