// GGUF reader and writer: a hand-built file of every value type (bytes laid out here from
// the format description, independent of the writer), writer round trips, writer failure
// paths, and every llama.cpp-written file in $PONDER_SHARED/models (read, and rewritten through
// the writer: the copy must be byte-identical, since llama.cpp lays files out the same way).
#include "formats/gguf.h"
#include "quant/quant.h"
#include "test-util.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// ---- A byte builder for hand-made files -----------------------------------------------

typedef struct Bytes {
    uint8_t *data;
    size_t len, cap;
} Bytes;

static void put(Bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->data = realloc(b->data, b->cap);
        if (!b->data) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_le(Bytes *b, uint64_t v, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        uint8_t byte = (uint8_t)(v >> (8 * i));
        put(b, &byte, 1);
    }
}

static void put_str(Bytes *b, const char *s)
{
    put_le(b, strlen(s), 8);
    put(b, s, strlen(s));
}

static void put_key(Bytes *b, const char *key, GgufValueType type)
{
    put_str(b, key);
    put_le(b, type, 4);
}

static uint32_t bits32(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static uint64_t bits64(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

// ---- Temporary directory ---------------------------------------------------------------

static char temp_dir[256];

static const char *temp_path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", temp_dir, name);
    return buf;
}

static int count_temp_leftovers(void)
{
    int n = 0;
    DIR *d = opendir(temp_dir);
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp-"))
            n++;
    closedir(d);
    return n;
}

static void remove_temp_dir(void)
{
    DIR *d = opendir(temp_dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            unlink(temp_path(e->d_name));
    closedir(d);
    rmdir(temp_dir);
}

// ---- Comparing parsed files --------------------------------------------------------

static bool kv_equal(const GgufKv *a, const GgufKv *b)
{
    if (a->key.len != b->key.len || memcmp(a->key.data, b->key.data, a->key.len) != 0 ||
        a->type != b->type)
        return false;
    switch (a->type) {
    case GGUF_VALUE_STRING:
        return a->value.str.len == b->value.str.len &&
               memcmp(a->value.str.data, b->value.str.data, a->value.str.len) == 0;
    case GGUF_VALUE_FLOAT32:
    case GGUF_VALUE_FLOAT64:
        return memcmp(&a->value.f64, &b->value.f64, sizeof(double)) == 0; // NaN-safe
    case GGUF_VALUE_ARRAY:
        if (a->array_type != b->array_type || a->array_count != b->array_count)
            return false;
        if (a->array_type == GGUF_VALUE_STRING) {
            for (uint64_t i = 0; i < a->array_count; i++) {
                GgufString x, y;
                if (!gguf_array_string(a, i, &x) || !gguf_array_string(b, i, &y) ||
                    x.len != y.len || memcmp(x.data, y.data, x.len) != 0)
                    return false;
            }
            return true;
        }
        return a->array_count == 0 ||
               memcmp(a->array_data, b->array_data,
                      a->array_count * gguf_value_type_size(a->array_type)) == 0;
    default: return a->value.u64 == b->value.u64; // the union's integer view covers both signs
    }
}

static void check_same_file(const GgufFile *a, const GgufFile *b, const char *what)
{
    CHECKF(a->n_kv == b->n_kv, "%s: kv count %llu vs %llu", what, (unsigned long long)a->n_kv,
           (unsigned long long)b->n_kv);
    for (uint64_t i = 0; i < a->n_kv && i < b->n_kv; i++)
        CHECKF(kv_equal(&a->kv[i], &b->kv[i]), "%s: kv %llu ('%.*s') differs", what,
               (unsigned long long)i, (int)a->kv[i].key.len, a->kv[i].key.data);
    CHECKF(a->n_tensors == b->n_tensors, "%s: tensor count differs", what);
    for (uint64_t i = 0; i < a->n_tensors && i < b->n_tensors; i++) {
        const GgufTensor *x = &a->tensors[i], *y = &b->tensors[i];
        bool same = x->name.len == y->name.len &&
                    memcmp(x->name.data, y->name.data, x->name.len) == 0 &&
                    x->n_dims == y->n_dims && memcmp(x->ne, y->ne, sizeof x->ne) == 0 &&
                    x->type == y->type && x->n_bytes == y->n_bytes &&
                    memcmp(x->data, y->data, x->n_bytes) == 0;
        CHECKF(same, "%s: tensor %llu ('%.*s') differs", what, (unsigned long long)i,
               (int)x->name.len, x->name.data);
    }
}

static bool file_bytes_equal(const char *path, const void *data, size_t size)
{
    size_t len;
    char *got = test_read_file(path, &len);
    bool same = got && len == size && memcmp(got, data, size) == 0;
    free(got);
    return same;
}

// ---- A hand-built file with every value type -------------------------------------------

static const uint8_t tensor_a[24] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
                                     13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24};
static uint8_t tensor_b[34]; // one q8_0 block, filled in main

static Bytes build_all_types_file(void)
{
    Bytes b = {0};
    put(&b, "GGUF", 4);
    put_le(&b, 3, 4);
    put_le(&b, 2, 8);  // tensors
    put_le(&b, 26, 8); // keys
    put_key(&b, "t.u8", GGUF_VALUE_UINT8), put_le(&b, 200, 1);
    put_key(&b, "t.i8", GGUF_VALUE_INT8), put_le(&b, (uint8_t)-100, 1);
    put_key(&b, "t.u16", GGUF_VALUE_UINT16), put_le(&b, 60000, 2);
    put_key(&b, "t.i16", GGUF_VALUE_INT16), put_le(&b, (uint16_t)-30000, 2);
    put_key(&b, "t.u32", GGUF_VALUE_UINT32), put_le(&b, 4000000000u, 4);
    put_key(&b, "t.i32", GGUF_VALUE_INT32), put_le(&b, (uint32_t)-2000000000, 4);
    put_key(&b, "t.f32", GGUF_VALUE_FLOAT32), put_le(&b, bits32(1.5f), 4);
    put_key(&b, "t.bool", GGUF_VALUE_BOOL), put_le(&b, 1, 1);
    put_key(&b, "t.str", GGUF_VALUE_STRING), put_str(&b, "h\xc3\xa9llo");
    put_key(&b, "t.u64", GGUF_VALUE_UINT64), put_le(&b, UINT64_MAX, 8);
    put_key(&b, "t.i64", GGUF_VALUE_INT64), put_le(&b, (uint64_t)INT64_MIN, 8);
    put_key(&b, "t.f64", GGUF_VALUE_FLOAT64), put_le(&b, bits64(-2.25), 8);
    put_key(&b, "t.small_u32", GGUF_VALUE_UINT32), put_le(&b, 7, 4);
    // One array per element type.
    static const struct {
        const char *key;
        GgufValueType type;
        size_t size;
        uint64_t values[3];
    } arrays[] = {
        {"a.u8", GGUF_VALUE_UINT8, 1, {0, 1, 255}},
        {"a.i8", GGUF_VALUE_INT8, 1, {(uint8_t)-128, 0, 127}},
        {"a.u16", GGUF_VALUE_UINT16, 2, {1, 2, 65535}},
        {"a.i16", GGUF_VALUE_INT16, 2, {(uint16_t)-2, 3, 4}},
        {"a.u32", GGUF_VALUE_UINT32, 4, {5, 6, 4000000000u}},
        {"a.i32", GGUF_VALUE_INT32, 4, {(uint32_t)-7, 8, 9}},
        {"a.f32", GGUF_VALUE_FLOAT32, 4, {0x3f800000, 0xc0000000, 0x7fc00000}}, // 1, -2, nan
        {"a.bool", GGUF_VALUE_BOOL, 1, {1, 0, 1}},
        {"a.u64", GGUF_VALUE_UINT64, 8, {UINT64_MAX, 0, 1}},
        {"a.i64", GGUF_VALUE_INT64, 8, {(uint64_t)INT64_MIN, (uint64_t)-1, 2}},
        {"a.f64", GGUF_VALUE_FLOAT64, 8, {0x4004000000000000, 0, 0x8000000000000000}}, // 2.5
    };
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        put_key(&b, arrays[i].key, GGUF_VALUE_ARRAY);
        put_le(&b, arrays[i].type, 4);
        put_le(&b, 3, 8);
        for (int j = 0; j < 3; j++)
            put_le(&b, arrays[i].values[j], arrays[i].size);
    }
    put_key(&b, "a.str", GGUF_VALUE_ARRAY), put_le(&b, GGUF_VALUE_STRING, 4), put_le(&b, 3, 8);
    put_str(&b, "a"), put_str(&b, ""), put_str(&b, "ccc");
    put_key(&b, "a.empty", GGUF_VALUE_ARRAY), put_le(&b, GGUF_VALUE_INT32, 4), put_le(&b, 0, 8);
    // Tensors: "a" f32 [3, 2] at 0, "b" q8_0 [32] at 32 (after 24 bytes + padding).
    put_str(&b, "a"), put_le(&b, 2, 4), put_le(&b, 3, 8), put_le(&b, 2, 8);
    put_le(&b, PONDER_TYPE_F32, 4), put_le(&b, 0, 8);
    put_str(&b, "b"), put_le(&b, 1, 4), put_le(&b, 32, 8);
    put_le(&b, PONDER_TYPE_Q8_0, 4), put_le(&b, 32, 8);
    static const uint8_t zeros[64];
    put(&b, zeros, (32 - b.len % 32) % 32);
    put(&b, tensor_a, sizeof tensor_a);
    put(&b, zeros, 8);
    put(&b, tensor_b, sizeof tensor_b);
    return b;
}

static void check_all_types_values(const GgufFile *f)
{
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    float f32;
    bool flag;
    GgufString s;
    CHECK(gguf_get_u32(f, "t.u8", &u32) && u32 == 200);
    CHECK(!gguf_get_u32(f, "t.i8", &u32)); // negative
    CHECK(gguf_get_i32(f, "t.i8", &i32) && i32 == -100);
    CHECK(gguf_get_u32(f, "t.u16", &u32) && u32 == 60000);
    CHECK(gguf_get_i32(f, "t.i16", &i32) && i32 == -30000);
    CHECK(gguf_get_u32(f, "t.u32", &u32) && u32 == 4000000000u);
    CHECK(!gguf_get_i32(f, "t.u32", &i32)); // does not fit
    CHECK(gguf_get_i32(f, "t.i32", &i32) && i32 == -2000000000);
    CHECK(gguf_get_f32(f, "t.f32", &f32) && f32 == 1.5f);
    CHECK(!gguf_get_u32(f, "t.f32", &u32)); // float is not an integer
    CHECK(gguf_get_bool(f, "t.bool", &flag) && flag);
    CHECK(!gguf_get_bool(f, "t.u8", &flag));
    CHECK(gguf_get_string(f, "t.str", &s) && gguf_string_equals(s, "h\xc3\xa9llo"));
    CHECK(!gguf_get_string(f, "t.u8", &s));
    CHECK(gguf_get_u64(f, "t.u64", &u64) && u64 == UINT64_MAX);
    CHECK(!gguf_get_u32(f, "t.u64", &u32));
    CHECK(gguf_find_kv(f, "t.i64") && gguf_find_kv(f, "t.i64")->value.i64 == INT64_MIN);
    CHECK(!gguf_get_u64(f, "t.i64", &u64));
    CHECK(gguf_get_f32(f, "t.f64", &f32) && f32 == -2.25f);
    CHECK(gguf_get_i32(f, "t.small_u32", &i32) && i32 == 7);
    CHECK(gguf_get_u64(f, "t.small_u32", &u64) && u64 == 7);
    CHECK(!gguf_get_u32(f, "missing", &u32) && !gguf_find_kv(f, "missing"));
    CHECK(!gguf_find_kv(f, "t.u")); // a prefix is not a match

    int64_t i64;
    double f64;
    const GgufKv *kv = gguf_find_kv(f, "a.i8");
    CHECK(kv && gguf_array_i64(kv, 0, &i64) && i64 == -128);
    CHECK(kv && gguf_array_i64(kv, 2, &i64) && i64 == 127);
    CHECK(kv && !gguf_array_i64(kv, 3, &i64)); // out of range
    CHECK(kv && !gguf_array_f64(kv, 0, &f64)); // not a float array
    kv = gguf_find_kv(f, "a.u8");
    CHECK(kv && gguf_array_i64(kv, 2, &i64) && i64 == 255);
    kv = gguf_find_kv(f, "a.i16");
    CHECK(kv && gguf_array_i64(kv, 0, &i64) && i64 == -2);
    kv = gguf_find_kv(f, "a.u16");
    CHECK(kv && gguf_array_i64(kv, 2, &i64) && i64 == 65535);
    kv = gguf_find_kv(f, "a.u32");
    CHECK(kv && gguf_array_i64(kv, 2, &i64) && i64 == 4000000000);
    kv = gguf_find_kv(f, "a.i32");
    CHECK(kv && gguf_array_i64(kv, 0, &i64) && i64 == -7);
    kv = gguf_find_kv(f, "a.u64");
    CHECK(kv && !gguf_array_i64(kv, 0, &i64)); // UINT64_MAX does not fit
    CHECK(kv && gguf_array_i64(kv, 2, &i64) && i64 == 1);
    kv = gguf_find_kv(f, "a.i64");
    CHECK(kv && gguf_array_i64(kv, 0, &i64) && i64 == INT64_MIN);
    CHECK(kv && gguf_array_i64(kv, 1, &i64) && i64 == -1);
    kv = gguf_find_kv(f, "a.f32");
    CHECK(kv && gguf_array_f64(kv, 0, &f64) && f64 == 1.0);
    CHECK(kv && gguf_array_f64(kv, 1, &f64) && f64 == -2.0);
    CHECK(kv && gguf_array_f64(kv, 2, &f64) && isnan(f64));
    CHECK(kv && !gguf_array_i64(kv, 0, &i64));
    kv = gguf_find_kv(f, "a.f64");
    CHECK(kv && gguf_array_f64(kv, 0, &f64) && f64 == 2.5);
    CHECK(kv && gguf_array_f64(kv, 2, &f64) && f64 == 0.0 && signbit(f64));
    kv = gguf_find_kv(f, "a.bool");
    CHECK(kv && kv->array_type == GGUF_VALUE_BOOL && kv->array_count == 3 &&
          kv->array_data[0] == 1 && kv->array_data[1] == 0);
    kv = gguf_find_kv(f, "a.str");
    CHECK(kv && kv->array_count == 3);
    CHECK(kv && gguf_array_string(kv, 0, &s) && gguf_string_equals(s, "a"));
    CHECK(kv && gguf_array_string(kv, 1, &s) && gguf_string_equals(s, ""));
    CHECK(kv && gguf_array_string(kv, 2, &s) && gguf_string_equals(s, "ccc"));
    CHECK(kv && !gguf_array_string(kv, 3, &s));
    CHECK(kv && !gguf_array_i64(kv, 0, &i64));
    kv = gguf_find_kv(f, "a.empty");
    CHECK(kv && kv->array_count == 0 && !gguf_array_i64(kv, 0, &i64));
    CHECK(!gguf_array_string(gguf_find_kv(f, "t.str"), 0, &s)); // not an array

    char buf[4];
    CHECK(strcmp(gguf_string_copy((GgufString){"abcdef", 6}, buf, sizeof buf), "abc") == 0);

    CHECK(f->alignment == 32 && f->data_offset % 32 == 0);
    const GgufTensor *a = gguf_find_tensor(f, "a"), *b = gguf_find_tensor(f, "b");
    CHECK(a && a->n_dims == 2 && a->ne[0] == 3 && a->ne[1] == 2 && a->ne[2] == 1 &&
          a->n_elements == 6 && a->n_bytes == 24 && a->type == PONDER_TYPE_F32);
    CHECK(a && a->data == f->map + f->data_offset && memcmp(a->data, tensor_a, 24) == 0);
    CHECK(b && b->offset == 32 && b->n_bytes == 34 && b->type == PONDER_TYPE_Q8_0 &&
          memcmp(b->data, tensor_b, 34) == 0);
    CHECK(!gguf_find_tensor(f, "c") && !gguf_find_tensor(f, ""));
}

static void test_all_value_types(void)
{
    for (size_t i = 0; i < sizeof tensor_b; i++)
        tensor_b[i] = (uint8_t)(i * 7 + 3);
    Bytes file = build_all_types_file();
    char err[256] = "";
    GgufFile *f = gguf_open_memory(file.data, file.len, err, sizeof err);
    CHECKF(f != NULL, "hand-built file rejected: %s", err);
    if (!f) {
        free(file.data);
        return;
    }
    CHECK(f->version == 3 && f->n_kv == 26 && f->n_tensors == 2);
    check_all_types_values(f);

    // Version 2 has the same layout.
    file.data[4] = 2;
    GgufFile *v2 = gguf_open_memory(file.data, file.len, err, sizeof err);
    CHECKF(v2 && v2->version == 2, "version 2 rejected: %s", err);
    gguf_close(v2);
    file.data[4] = 3;

    // Copy through the writer: the result must be the same bytes (same layout rules).
    GgufWriter *w = gguf_writer_new();
    gguf_writer_copy_kv(w, f);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        char name[64];
        const GgufTensor *t = &f->tensors[i];
        gguf_writer_add_tensor(w, gguf_string_copy(t->name, name, sizeof name), t->type, t->n_dims,
                               t->ne, t->data);
    }
    const char *path = temp_path("all-types.gguf");
    CHECKF(gguf_writer_write(w, path, err, sizeof err), "write: %s", err);
    gguf_writer_free(w);
    CHECK(file_bytes_equal(path, file.data, file.len));
    GgufFile *copy = gguf_open(path, err, sizeof err);
    CHECKF(copy != NULL, "reopen: %s", err);
    if (copy) {
        check_all_types_values(copy);
        check_same_file(f, copy, "all-types copy");
    }
    gguf_close(copy);
    gguf_close(f);
    free(file.data);
}

// ---- Writer: a byte-exact tiny file, setters, alignment, tensors -------------------------

static void test_writer_exact_bytes(void)
{
    // Expected layout written out by hand from the format description.
    Bytes want = {0};
    put(&want, "GGUF", 4), put_le(&want, 3, 4), put_le(&want, 1, 8), put_le(&want, 1, 8);
    put_key(&want, "k", GGUF_VALUE_UINT32), put_le(&want, 0xdeadbeef, 4);
    put_str(&want, "w"), put_le(&want, 1, 4), put_le(&want, 3, 8);
    put_le(&want, PONDER_TYPE_F32, 4), put_le(&want, 0, 8);
    static const uint8_t zeros[32];
    put(&want, zeros, (32 - want.len % 32) % 32);
    const float values[3] = {1.0f, -0.5f, 3.25f};
    for (int i = 0; i < 3; i++)
        put_le(&want, bits32(values[i]), 4);

    GgufWriter *w = gguf_writer_new();
    gguf_writer_set_u32(w, "k", 0xdeadbeef);
    gguf_writer_add_tensor(w, "w", PONDER_TYPE_F32, 1, (const uint64_t[]){3}, values);
    char err[256] = "";
    const char *path = temp_path("exact.gguf");
    CHECKF(gguf_writer_write(w, path, err, sizeof err), "write: %s", err);
    gguf_writer_free(w);
    CHECK(file_bytes_equal(path, want.data, want.len));
    free(want.data);
}

typedef struct FillState {
    uint8_t seed;
    int calls;
} FillState;

static bool fill_pattern(void *user, void *dst, uint64_t n_bytes, char *err, size_t err_size)
{
    FillState *s = user;
    s->calls++;
    for (uint64_t i = 0; i < n_bytes; i++)
        ((uint8_t *)dst)[i] = (uint8_t)(s->seed + i * 13);
    return true;
}

static bool fill_fails(void *user, void *dst, uint64_t n_bytes, char *err, size_t err_size)
{
    snprintf(err, err_size, "source checkpoint unreadable");
    return false;
}

static void test_writer_round_trip(uint32_t alignment)
{
    GgufWriter *w = gguf_writer_new();
    if (alignment != GGUF_DEFAULT_ALIGNMENT)
        gguf_writer_set_alignment(w, alignment);
    gguf_writer_set_string(w, "general.architecture", "qwen2");
    gguf_writer_set_u32(w, "replaced", 1);
    gguf_writer_set_u32(w, "u32", 123456);
    gguf_writer_set_i32(w, "i32", -77);
    gguf_writer_set_u64(w, "u64", 1ull << 40);
    gguf_writer_set_f32(w, "f32", 0.125f);
    gguf_writer_set_bool(w, "bool", false);
    gguf_writer_set_string_n(w, "bin", "a\0b", 3);
    gguf_writer_set_string(w, "empty", "");
    const char *strs[] = {"x", "yy", "", "z\0z"};
    const size_t lens[] = {1, 2, 0, 3};
    gguf_writer_set_array_strings(w, "strs", strs, lens, 4);
    gguf_writer_set_array_strings(w, "strs_nul", strs, NULL, 2);
    gguf_writer_set_array_i32(w, "ints", (const int32_t[]){-1, 0, INT32_MAX}, 3);
    gguf_writer_set_array_f32(w, "floats", (const float[]){0.5f, -1e30f}, 2);
    gguf_writer_set_array_i32(w, "no_ints", NULL, 0);
    gguf_writer_set_string(w, "replaced", "now a string");

    // Tensors of several types; sizes chosen so offsets need padding.
    static const struct {
        const char *name;
        PonderType type;
        uint32_t n_dims;
        uint64_t ne[4];
    } specs[] = {
        {"norm", PONDER_TYPE_F32, 1, {5, 1, 1, 1}},
        {"half", PONDER_TYPE_F16, 2, {3, 3, 1, 1}},
        {"brain", PONDER_TYPE_BF16, 3, {7, 1, 2, 1}},
        {"q40", PONDER_TYPE_Q4_0, 2, {64, 3, 1, 1}},
        {"q80", PONDER_TYPE_Q8_0, 1, {32, 1, 1, 1}},
        {"q4k", PONDER_TYPE_Q4_K, 2, {256, 2, 1, 1}},
        {"q6k", PONDER_TYPE_Q6_K, 4, {512, 1, 1, 3}},
        {"filled", PONDER_TYPE_Q5_K, 2, {256, 3, 1, 1}},
    };
    enum { N = sizeof specs / sizeof specs[0] };
    uint8_t *buffers[N] = {0};
    FillState fill = {.seed = 42};
    for (int i = 0; i < N; i++) {
        uint64_t row;
        CHECK(ponder_row_bytes(specs[i].type, specs[i].ne[0], &row));
        uint64_t bytes = row * specs[i].ne[1] * specs[i].ne[2] * specs[i].ne[3];
        if (i == N - 1) {
            gguf_writer_add_tensor_fill(w, specs[i].name, specs[i].type, specs[i].n_dims,
                                        specs[i].ne, fill_pattern, &fill);
            buffers[i] = malloc(bytes);
            fill_pattern(&(FillState){.seed = 42}, buffers[i], bytes, NULL, 0);
            continue;
        }
        buffers[i] = malloc(bytes);
        for (uint64_t j = 0; j < bytes; j++)
            buffers[i][j] = (uint8_t)(rand() & 0xff);
        gguf_writer_add_tensor(w, specs[i].name, specs[i].type, specs[i].n_dims, specs[i].ne,
                               buffers[i]);
    }

    char path_name[64];
    snprintf(path_name, sizeof path_name, "round-trip-%u.gguf", alignment);
    const char *path = temp_path(path_name);
    char err[256] = "";
    CHECKF(gguf_writer_write(w, path, err, sizeof err), "write: %s", err);
    gguf_writer_free(w);
    CHECK(fill.calls == 1);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0444) == 0444); // not mkstemp's 0600

    GgufFile *f = gguf_open(path, err, sizeof err);
    CHECKF(f != NULL, "reopen: %s", err);
    if (!f)
        goto out;
    CHECK(f->version == 3 && f->alignment == alignment);
    CHECK(f->data_offset % alignment == 0);
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    float f32;
    bool flag = true;
    GgufString s;
    CHECK(gguf_get_u32(f, "general.alignment", &u32) == (alignment != GGUF_DEFAULT_ALIGNMENT));
    CHECK(gguf_get_string(f, "general.architecture", &s) && gguf_string_equals(s, "qwen2"));
    CHECK(gguf_get_string(f, "replaced", &s) && gguf_string_equals(s, "now a string"));
    CHECK(gguf_get_u32(f, "u32", &u32) && u32 == 123456);
    CHECK(gguf_get_i32(f, "i32", &i32) && i32 == -77);
    CHECK(gguf_get_u64(f, "u64", &u64) && u64 == 1ull << 40);
    CHECK(gguf_get_f32(f, "f32", &f32) && f32 == 0.125f);
    CHECK(gguf_get_bool(f, "bool", &flag) && !flag);
    CHECK(gguf_get_string(f, "bin", &s) && s.len == 3 && memcmp(s.data, "a\0b", 3) == 0);
    CHECK(gguf_get_string(f, "empty", &s) && s.len == 0);
    const GgufKv *kv = gguf_find_kv(f, "strs");
    CHECK(kv && kv->array_count == 4);
    for (uint64_t i = 0; kv && i < 4; i++)
        CHECK(gguf_array_string(kv, i, &s) && s.len == lens[i] &&
              memcmp(s.data, strs[i], lens[i]) == 0);
    kv = gguf_find_kv(f, "strs_nul");
    CHECK(kv && kv->array_count == 2 && gguf_array_string(kv, 1, &s) &&
          gguf_string_equals(s, "yy"));
    int64_t i64;
    double f64;
    kv = gguf_find_kv(f, "ints");
    CHECK(kv && kv->array_type == GGUF_VALUE_INT32 && gguf_array_i64(kv, 0, &i64) && i64 == -1 &&
          gguf_array_i64(kv, 2, &i64) && i64 == INT32_MAX);
    kv = gguf_find_kv(f, "floats");
    CHECK(kv && gguf_array_f64(kv, 1, &f64) && (float)f64 == -1e30f);
    kv = gguf_find_kv(f, "no_ints");
    CHECK(kv && kv->array_count == 0);

    CHECK(f->n_tensors == N);
    for (int i = 0; i < N && i < (int)f->n_tensors; i++) {
        const GgufTensor *t = &f->tensors[i]; // order kept
        CHECK(gguf_string_equals(t->name, specs[i].name));
        CHECK(gguf_find_tensor(f, specs[i].name) == t);
        CHECK(t->type == specs[i].type && t->n_dims == specs[i].n_dims);
        CHECK(memcmp(t->ne, specs[i].ne, sizeof t->ne) == 0);
        CHECK(t->offset % alignment == 0 && ((const uint8_t *)t->data - f->map) % alignment == 0);
        CHECKF(memcmp(t->data, buffers[i], t->n_bytes) == 0, "tensor %s bytes differ",
               specs[i].name);
    }
    gguf_close(f);
out:
    for (int i = 0; i < N; i++)
        free(buffers[i]);
}

static void expect_write_error(GgufWriter *w, const char *path, const char *fragment)
{
    char err[512] = "";
    CHECK(!gguf_writer_write(w, path, err, sizeof err));
    CHECKF(strstr(err, fragment) != NULL && strstr(err, path) == err,
           "message '%s' lacks the path or '%s'", err, fragment);
    CHECKF(access(path, F_OK) != 0, "%s exists after a failed write", path);
    gguf_writer_free(w);
}

static void test_writer_errors(void)
{
    const uint64_t ne[1] = {32};
    static const uint8_t data[256];
    char path[512]; // temp_path's buffer is reused below
    snprintf(path, sizeof path, "%s", temp_path("failed.gguf"));

    GgufWriter *w = gguf_writer_new();
    gguf_writer_add_tensor_fill(w, "x", PONDER_TYPE_Q8_0, 1, ne, fill_fails, NULL);
    expect_write_error(w, path, "source checkpoint unreadable");
    CHECK(count_temp_leftovers() == 0);

    w = gguf_writer_new();
    gguf_writer_add_tensor(w, "x", PONDER_TYPE_F32, 1, ne, data);
    expect_write_error(w, temp_path("no-such-dir/out.gguf"), "No such file or directory");

    w = gguf_writer_new();
    gguf_writer_add_tensor(w, "x", PONDER_TYPE_F32, 1, ne, data);
    gguf_writer_add_tensor(w, "x", PONDER_TYPE_F32, 1, ne, data);
    expect_write_error(w, path, "duplicate tensor name 'x'");

    w = gguf_writer_new();
    gguf_writer_add_tensor(w, "odd", PONDER_TYPE_Q4_K, 1, ne, data);
    expect_write_error(w, path, "not a multiple");

    w = gguf_writer_new();
    gguf_writer_add_tensor(w, "act", PONDER_TYPE_Q8_K, 1, (const uint64_t[]){256}, data);
    expect_write_error(w, path, "cannot be stored");

    w = gguf_writer_new();
    gguf_writer_set_alignment(w, 3);
    expect_write_error(w, path, "power of two");

    w = gguf_writer_new();
    gguf_writer_set_i32(w, "general.alignment", 64);
    expect_write_error(w, path, "uint32");

    w = gguf_writer_new();
    gguf_writer_set_u32(w, "", 1);
    expect_write_error(w, path, "invalid key");

    // A full disk, simulated with a file-size limit (writes past it fail with EFBIG).
    static uint8_t big[256 * 1024];
    w = gguf_writer_new();
    gguf_writer_add_tensor(w, "big", PONDER_TYPE_F32, 1, (const uint64_t[]){sizeof big / 4}, big);
    struct rlimit old_limit, limit;
    getrlimit(RLIMIT_FSIZE, &old_limit);
    limit = old_limit;
    limit.rlim_cur = 64 * 1024;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &limit) == 0);
    char full_path[512];
    snprintf(full_path, sizeof full_path, "%s", temp_path("full.gguf"));
    expect_write_error(w, full_path, "write failed: File too large");
    setrlimit(RLIMIT_FSIZE, &old_limit);
    signal(SIGXFSZ, old_handler);
    CHECK(count_temp_leftovers() == 0);

    // A failed write leaves an existing file untouched.
    w = gguf_writer_new();
    gguf_writer_add_tensor(w, "x", PONDER_TYPE_F32, 1, ne, data);
    char err[256];
    CHECKF(gguf_writer_write(w, path, err, sizeof err), "write: %s", err);
    gguf_writer_free(w);
    size_t before;
    char *old = test_read_file(path, &before);
    w = gguf_writer_new();
    gguf_writer_add_tensor_fill(w, "x", PONDER_TYPE_Q8_0, 1, ne, fill_fails, NULL);
    CHECK(!gguf_writer_write(w, path, err, sizeof err));
    gguf_writer_free(w);
    CHECK(old && file_bytes_equal(path, old, before));
    free(old);
    CHECK(count_temp_leftovers() == 0);
}

// Opening must not depend on the data size: a 151k-string vocabulary (like R1's) and a
// 64 MiB tensor open in milliseconds.
static void test_open_speed(void)
{
    enum { N_TOKENS = 151936 };
    char(*tokens)[16] = malloc(N_TOKENS * sizeof *tokens);
    const char **ptrs = malloc(N_TOKENS * sizeof *ptrs);
    for (int i = 0; i < N_TOKENS; i++) {
        snprintf(tokens[i], sizeof tokens[i], "tok%d", i);
        ptrs[i] = tokens[i];
    }
    GgufWriter *w = gguf_writer_new();
    gguf_writer_set_array_strings(w, "tokenizer.ggml.tokens", ptrs, NULL, N_TOKENS);
    FillState fill = {.seed = 1};
    gguf_writer_add_tensor_fill(w, "big", PONDER_TYPE_Q8_0, 2,
                                (const uint64_t[]){4096, 64 * 1024 * 1024 / 34 / 128}, fill_pattern,
                                &fill);
    const char *path = temp_path("speed.gguf");
    char err[256];
    CHECKF(gguf_writer_write(w, path, err, sizeof err), "write: %s", err);
    gguf_writer_free(w);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    GgufFile *f = gguf_open(path, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("open of %d tokens + 64 MiB tensor: %.2f ms\n", N_TOKENS, ms);
    CHECKF(f != NULL, "open: %s", err);
    CHECK(ms < 500); // generous for sanitizer builds; ~1 ms in a release build
    const GgufKv *kv = gguf_find_kv(f, "tokenizer.ggml.tokens");
    GgufString s;
    CHECK(kv && kv->array_count == N_TOKENS && gguf_array_string(kv, 151000, &s) &&
          gguf_string_equals(s, "tok151000"));
    gguf_close(f);
    unlink(path);
    free(tokens);
    free(ptrs);
}

// ---- llama.cpp's files -------------------------------------------------------------

static int type_from_file_name(const char *name)
{
    static const struct {
        const char *suffix;
        PonderType type;
    } map[] = {
        {"-f16.gguf", PONDER_TYPE_F16},     {"-bf16.gguf", PONDER_TYPE_BF16},
        {"-q2_k.gguf", PONDER_TYPE_Q2_K},   {"-q3_k_m.gguf", PONDER_TYPE_Q3_K},
        {"-q4_0.gguf", PONDER_TYPE_Q4_0},   {"-q4_1.gguf", PONDER_TYPE_Q4_1},
        {"-q4_k_m.gguf", PONDER_TYPE_Q4_K}, {"-q5_0.gguf", PONDER_TYPE_Q5_0},
        {"-q5_1.gguf", PONDER_TYPE_Q5_1},   {"-q5_k_m.gguf", PONDER_TYPE_Q5_K},
        {"-q6_k.gguf", PONDER_TYPE_Q6_K},   {"-q8_0.gguf", PONDER_TYPE_Q8_0},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t n = strlen(name), m = strlen(map[i].suffix);
        if (n >= m && strcmp(name + n - m, map[i].suffix) == 0)
            return map[i].type;
    }
    return -1;
}

static void check_real_file(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char err[512] = "";
    GgufFile *f = gguf_open(path, err, sizeof err);
    CHECKF(f != NULL, "%s rejected: %s", name, err);
    if (!f)
        return;

    GgufString arch;
    const char *want_arch = strncmp(name, "qwen2", 5) == 0 ? "qwen2" : "llama";
    CHECKF(gguf_get_string(f, "general.architecture", &arch) && gguf_string_equals(arch, want_arch),
           "%s: architecture", name);
    CHECKF(f->n_tensors > 0, "%s: no tensors", name);
    const GgufKv *tokens = gguf_find_kv(f, "tokenizer.ggml.tokens");
    GgufString s;
    CHECKF(tokens && tokens->array_type == GGUF_VALUE_STRING && tokens->array_count == 1056 &&
               gguf_array_string(tokens, 1029, &s) && gguf_string_equals(s, "<think>"),
           "%s: tokens", name);

    int counts[PONDER_TYPE_COUNT] = {0};
    uint64_t end = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const GgufTensor *t = &f->tensors[i];
        const PonderTypeTraits *traits = ponder_type_traits(t->type);
        CHECKF(traits && traits->is_weight_type, "%s: tensor type %u", name, t->type);
        if (!traits)
            continue;
        counts[t->type]++;
        char tname[128];
        gguf_string_copy(t->name, tname, sizeof tname);
        CHECKF(gguf_find_tensor(f, tname) == t, "%s: lookup of %s", name, tname);
        uint64_t row;
        CHECK(ponder_row_bytes(t->type, t->ne[0], &row));
        CHECK(t->n_bytes == row * (t->n_elements / t->ne[0]));
        CHECK(t->n_elements == t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        CHECK((const uint8_t *)t->data + t->n_bytes <= f->map + f->map_size);
        CHECK(t->offset % f->alignment == 0);
        if (t->offset + t->n_bytes > end)
            end = t->offset + t->n_bytes;
        // Norms stay F32 whatever the file type.
        if (strstr(tname, "_norm.weight"))
            CHECKF(t->type == PONDER_TYPE_F32, "%s: %s is %s", name, tname, traits->name);
    }
    CHECKF(f->data_offset + end == f->map_size, "%s: data ends at %llu, file is %zu bytes", name,
           (unsigned long long)(f->data_offset + end), f->map_size);
    const GgufTensor *embd = gguf_find_tensor(f, "token_embd.weight");
    CHECKF(embd && embd->ne[0] == 256 && embd->ne[1] == 1056, "%s: token_embd", name);
    CHECKF(gguf_find_tensor(f, "blk.1.ffn_down.weight") != NULL, "%s: blk.1.ffn_down", name);
    int main_type = type_from_file_name(name);
    CHECKF(main_type >= 0 && counts[main_type] > 0, "%s: no tensor of the file's type", name);

    printf("%-20s v%u %2llu kv %2llu tensors:", name, f->version, (unsigned long long)f->n_kv,
           (unsigned long long)f->n_tensors);
    for (int t = 0; t < PONDER_TYPE_COUNT; t++)
        if (counts[t])
            printf(" %s=%d", ponder_type_traits((uint32_t)t)->name, counts[t]);
    printf("\n");
    if (strcmp(name, "qwen2-q4_k_m.gguf") == 0)
        CHECK(counts[PONDER_TYPE_Q4_K] > 0 && counts[PONDER_TYPE_Q6_K] > 0 &&
              counts[PONDER_TYPE_F32] > 0);

    // Rewrite through the writer: same kv, same tensors, and (llama.cpp uses the same
    // layout: kv in order, tensors in order, 32-byte padding) the same bytes.
    GgufWriter *w = gguf_writer_new();
    gguf_writer_copy_kv(w, f);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const GgufTensor *t = &f->tensors[i];
        char tname[300];
        gguf_writer_add_tensor(w, gguf_string_copy(t->name, tname, sizeof tname), t->type,
                               t->n_dims, t->ne, t->data);
    }
    const char *copy_path = temp_path("copy.gguf");
    CHECKF(gguf_writer_write(w, copy_path, err, sizeof err), "%s: write: %s", name, err);
    gguf_writer_free(w);
    GgufFile *copy = gguf_open(copy_path, err, sizeof err);
    CHECKF(copy != NULL, "%s: copy rejected: %s", name, err);
    if (copy) {
        check_same_file(f, copy, name);
        CHECKF(copy->map_size == f->map_size && memcmp(copy->map, f->map, f->map_size) == 0,
               "%s: copy is not byte-identical", name);
    }
    gguf_close(copy);
    unlink(copy_path);
    gguf_close(f);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int test_real_files(void)
{
    const char *dir = test_shared_path("models");
    DIR *d = opendir(dir);
    CHECKF(d != NULL, "cannot open %s", dir);
    if (!d)
        return 0;
    char *names[256];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 256;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".gguf") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], compare_names);
    test_check_model_set(names, (size_t)n);
    for (int i = 0; i < n; i++) {
        check_real_file(dir, names[i]);
        free(names[i]);
    }
    return n;
}

int main(void)
{
    snprintf(temp_dir, sizeof temp_dir, "%s/ponder-gguf-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(temp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    srand(1234);
    test_all_value_types();
    test_writer_exact_bytes();
    test_writer_round_trip(GGUF_DEFAULT_ALIGNMENT);
    test_writer_round_trip(64);
    test_writer_round_trip(1);
    test_writer_errors();
    test_open_speed();
    int n_real = test_real_files();
    printf("%d llama.cpp files checked\n", n_real);
    remove_temp_dir();
    return test_finish();
}
