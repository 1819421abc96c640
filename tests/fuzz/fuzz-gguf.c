// libFuzzer target for the GGUF reader: every input goes through gguf_open_memory and,
// when accepted, every key, value, array element, string byte and tensor the getters hand
// out is read (so AddressSanitizer sees any out-of-bounds pointer the reader produced).
//
// Build and run (clang only):
//   CC=clang meson setup build-fuzz -Dinference_only=true -Dfuzz=true -Db_lundef=false
//   meson compile -C build-fuzz tests/fuzz/fuzz-gguf
//   mkdir -p build-fuzz/corpus
//   build-fuzz/tests/fuzz/fuzz-gguf -max_total_time=60 -timeout=10 -rss_limit_mb=2048 CORPUS SEEDS
// with CORPUS = build-fuzz/corpus (collects the new inputs) and SEEDS = tests/fuzz/corpus-gguf
// (written by tools/make-hostile-gguf.py). A crash leaves crash-<sha1> in the current directory;
// replay it with `build-fuzz/tests/fuzz/fuzz-gguf crash-<sha1>`.
//
// The same checks run without libFuzzer in tests/inference/test-gguf-hostile.c, which
// links this file and calls fuzz_gguf_open_and_touch on truncated and mutated files.
#include "formats/gguf.h"
#include "quant/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool fuzz_gguf_open_and_touch(const uint8_t *data, size_t size, char *err, size_t err_size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// An accepted file broke an invariant the reader promises: stop so the fuzzer records it.
static void broken(const char *what)
{
    fprintf(stderr, "GGUF reader invariant broken: %s\n", what);
    abort();
}

static unsigned touch_bytes(const void *p, uint64_t n)
{
    unsigned sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += ((const uint8_t *)p)[i];
    return sum;
}

static bool inside(const GgufFile *f, const void *p, uint64_t n)
{
    const uint8_t *b = p;
    return b >= f->map && (uint64_t)(b - f->map) <= f->map_size &&
           n <= f->map_size - (uint64_t)(b - f->map);
}

static unsigned touch_kv(const GgufFile *f, const GgufKv *kv, char *name, size_t name_size)
{
    unsigned sum = touch_bytes(kv->key.data, kv->key.len);
    if (!inside(f, kv->key.data, kv->key.len) || kv->key.len + 1 > name_size)
        broken("key outside the file or too long");
    gguf_string_copy(kv->key, name, name_size);
    if (gguf_find_kv(f, name) != kv)
        broken("gguf_find_kv does not find a key");

    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    float f32;
    bool flag;
    GgufString s;
    sum += gguf_get_u32(f, name, &u32) + gguf_get_u64(f, name, &u64) + gguf_get_i32(f, name, &i32) +
           gguf_get_f32(f, name, &f32) + gguf_get_bool(f, name, &flag);
    if (gguf_get_string(f, name, &s)) {
        if (!inside(f, s.data, s.len))
            broken("string value outside the file");
        sum += touch_bytes(s.data, s.len);
    }
    if (kv->type != GGUF_VALUE_ARRAY)
        return sum;
    if (kv->array_type == GGUF_VALUE_ARRAY)
        broken("nested array accepted");
    for (uint64_t i = 0; i < kv->array_count; i++) {
        int64_t i64;
        double f64;
        if (gguf_array_string(kv, i, &s)) {
            if (!inside(f, s.data, s.len))
                broken("array string outside the file");
            sum += touch_bytes(s.data, s.len);
        } else if (gguf_array_i64(kv, i, &i64)) {
            sum += (unsigned)i64;
        } else if (gguf_array_f64(kv, i, &f64)) {
            sum += f64 > 0;
        }
    }
    size_t elem = gguf_value_type_size(kv->array_type);
    if (elem > 0 && !inside(f, kv->array_data, kv->array_count * elem))
        broken("array outside the file");
    return sum;
}

static unsigned touch_tensor(const GgufFile *f, const GgufTensor *t, char *name, size_t name_size)
{
    if (!inside(f, t->name.data, t->name.len) || t->name.len + 1 > name_size)
        broken("tensor name outside the file or too long");
    gguf_string_copy(t->name, name, name_size);
    if (gguf_find_tensor(f, name) != t)
        broken("gguf_find_tensor does not find a tensor");
    uint64_t row_bytes;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS ||
        !ponder_row_bytes(t->type, t->ne[0], &row_bytes) ||
        t->n_bytes != row_bytes * (t->n_elements / t->ne[0]) || t->offset % f->alignment != 0)
        broken("tensor shape, type or offset inconsistent");
    if ((const uint8_t *)t->data != f->map + f->data_offset + t->offset ||
        !inside(f, t->data, t->n_bytes))
        broken("tensor data outside the file");
    const uint8_t *bytes = t->data;
    return bytes[0] + bytes[t->n_bytes - 1];
}

bool fuzz_gguf_open_and_touch(const uint8_t *data, size_t size, char *err, size_t err_size)
{
    err[0] = '\0';
    GgufFile *f = gguf_open_memory(data, size, err, err_size);
    if (!f) {
        if (err[0] == '\0')
            broken("rejected without a message");
        return false;
    }
    static char name[65536 + 1]; // the longest key the reader accepts, NUL-terminated
    volatile unsigned sink = 0;
    for (uint64_t i = 0; i < f->n_kv; i++)
        sink += touch_kv(f, &f->kv[i], name, sizeof name);
    for (uint64_t i = 0; i < f->n_tensors; i++)
        sink += touch_tensor(f, &f->tensors[i], name, sizeof name);
    if (f->alignment == 0 || (f->alignment & (f->alignment - 1)) != 0 ||
        f->data_offset % f->alignment != 0)
        broken("bad alignment accepted");

    // The writer's copy of the metadata must take whatever the reader accepted.
    GgufWriter *w = gguf_writer_new();
    gguf_writer_copy_kv(w, f);
    gguf_writer_free(w);
    gguf_close(f);
    (void)sink;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    fuzz_gguf_open_and_touch(data, size, err, sizeof err);
    return 0;
}
