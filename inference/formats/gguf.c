// GGUF v2/v3 reader.
//
// Validation happens once, at open: every count, length and offset is checked against
// the bytes that remain (with overflow-safe arithmetic) before anything is allocated or
// read, so a hostile file can neither crash the reader nor make it allocate more than a
// small multiple of the file's size. Counts are bounded by "remaining bytes / smallest
// possible element", which keeps a count of 2^60 from turning into a huge malloc.
// Tensor data pages are never touched: opening a multi-GiB model reads only its header.
#include "gguf.h"

#include "quant/quant.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    GGUF_MAGIC = 0x46554747, // "GGUF" read as a little-endian u32
    MAX_KEY_LEN = 65535,     // the GGUF spec's limit
    MAX_TENSOR_NAME_LEN = 256,
    // Far above any model (~30 keys, a few thousand tensors); they cap the per-entry
    // structures at a fixed size even for a huge hostile file.
    MAX_KV_COUNT = 1 << 20,
    MAX_TENSOR_COUNT = 1 << 20,
    // Smallest encodings, used to bound counts before allocating for them.
    MIN_KV_BYTES = 8 + 1 + 4 + 1,                  // key length, 1-byte key, type, 1-byte value
    MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8, // name, n_dims, one ne, type, offset
    SHOWN_NAME_MAX = 64,                           // longest name quoted in an error message
};

// ---- Little-endian decoding and value types ---------------------------------------

static uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

static const struct {
    const char *name;
    uint8_t size; // 0 for STRING and ARRAY (variable length)
} value_types[GGUF_VALUE_TYPE_COUNT] = {
    [GGUF_VALUE_UINT8] = {"uint8", 1},     [GGUF_VALUE_INT8] = {"int8", 1},
    [GGUF_VALUE_UINT16] = {"uint16", 2},   [GGUF_VALUE_INT16] = {"int16", 2},
    [GGUF_VALUE_UINT32] = {"uint32", 4},   [GGUF_VALUE_INT32] = {"int32", 4},
    [GGUF_VALUE_FLOAT32] = {"float32", 4}, [GGUF_VALUE_BOOL] = {"bool", 1},
    [GGUF_VALUE_STRING] = {"string", 0},   [GGUF_VALUE_ARRAY] = {"array", 0},
    [GGUF_VALUE_UINT64] = {"uint64", 8},   [GGUF_VALUE_INT64] = {"int64", 8},
    [GGUF_VALUE_FLOAT64] = {"float64", 8},
};

size_t gguf_value_type_size(GgufValueType type)
{
    return (unsigned)type < GGUF_VALUE_TYPE_COUNT ? value_types[type].size : 0;
}

const char *gguf_value_type_name(GgufValueType type)
{
    return (unsigned)type < GGUF_VALUE_TYPE_COUNT ? value_types[type].name : "unknown";
}

static bool is_unsigned_type(GgufValueType t)
{
    return t == GGUF_VALUE_UINT8 || t == GGUF_VALUE_UINT16 || t == GGUF_VALUE_UINT32 ||
           t == GGUF_VALUE_UINT64;
}

static bool is_signed_type(GgufValueType t)
{
    return t == GGUF_VALUE_INT8 || t == GGUF_VALUE_INT16 || t == GGUF_VALUE_INT32 ||
           t == GGUF_VALUE_INT64;
}

static bool is_float_type(GgufValueType t)
{
    return t == GGUF_VALUE_FLOAT32 || t == GGUF_VALUE_FLOAT64;
}

// Sign-extends a SIZE-byte two's-complement value.
static int64_t sign_extend(uint64_t v, size_t size)
{
    if (size < 8) {
        uint64_t sign_bit = (uint64_t)1 << (size * 8 - 1);
        v = (v ^ sign_bit) - sign_bit; // wraps as intended for negative values
    }
    int64_t out;
    memcpy(&out, &v, sizeof out);
    return out;
}

static double decode_float(uint64_t bits, size_t size)
{
    if (size == 4) {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof f);
        return f;
    }
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

// ---- Name index ------------------------------------------------------------------
// Names sorted once, for duplicate detection and binary-search lookups: O(n log n) to
// build whatever names a hostile file holds (a fixed hash could be flooded with
// colliding names), and ~9 comparisons per lookup among the few hundred tensors.

typedef struct NameEntry {
    GgufString name;
    size_t index; // into file->kv or file->tensors
} NameEntry;

typedef struct NameIndex {
    NameEntry *sorted;
    size_t count;
} NameIndex;

typedef GgufString (*NameOf)(const GgufFile *file, size_t i);

static GgufString kv_name(const GgufFile *file, size_t i)
{
    return file->kv[i].key;
}

static GgufString tensor_name(const GgufFile *file, size_t i)
{
    return file->tensors[i].name;
}

static int compare_strings(GgufString a, GgufString b)
{
    uint64_t common = a.len < b.len ? a.len : b.len;
    int c = common > 0 ? memcmp(a.data, b.data, (size_t)common) : 0;
    return c != 0 ? c : (a.len > b.len) - (a.len < b.len);
}

static int compare_entries(const void *a, const void *b)
{
    const NameEntry *x = a, *y = b;
    int c = compare_strings(x->name, y->name);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

// Indexes the COUNT names; on a duplicate stores the two entry numbers in *DUP_A < *DUP_B.
static bool index_build(NameIndex *ix, const GgufFile *file, size_t count, NameOf name_of,
                        size_t *dup_a, size_t *dup_b, bool *out_of_memory)
{
    ix->sorted = malloc((count > 0 ? count : 1) * sizeof *ix->sorted);
    *out_of_memory = ix->sorted == NULL;
    if (!ix->sorted)
        return false;
    ix->count = count;
    for (size_t i = 0; i < count; i++)
        ix->sorted[i] = (NameEntry){name_of(file, i), i};
    qsort(ix->sorted, count, sizeof *ix->sorted, compare_entries);
    for (size_t i = 1; i < count; i++) {
        if (compare_strings(ix->sorted[i - 1].name, ix->sorted[i].name) == 0) {
            *dup_a = ix->sorted[i - 1].index;
            *dup_b = ix->sorted[i].index;
            return false;
        }
    }
    return true;
}

static size_t index_find(const NameIndex *ix, const char *name)
{
    if (!ix->sorted || !name)
        return SIZE_MAX;
    GgufString key = {name, strlen(name)};
    size_t lo = 0, hi = ix->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_strings(ix->sorted[mid].name, key);
        if (c == 0)
            return ix->sorted[mid].index;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SIZE_MAX;
}

// The public struct comes first so a GgufFile * converts back to its implementation.
typedef struct GgufFileImpl {
    GgufFile file;
    NameIndex kv_index;
    NameIndex tensor_index;
} GgufFileImpl;

// ---- Parser ------------------------------------------------------------------------

typedef struct Parser {
    const uint8_t *data;
    size_t size;
    size_t pos;
    char *err;
    size_t err_size;
} Parser;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static bool
fail(Parser *p, const char *fmt, ...)
{
    if (p->err && p->err_size > 0) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(p->err, p->err_size, fmt, args);
        va_end(args);
    }
    return false;
}

static size_t remaining(const Parser *p)
{
    return p->size - p->pos;
}

// Quotes NAME for an error message: printable ASCII kept, other bytes shown as '?',
// long names cut (a hostile name may be megabytes of control characters).
static const char *show(GgufString name, char *buf, size_t buf_size)
{
    size_t n = 0;
    for (uint64_t i = 0; i < name.len && n + 4 < buf_size; i++) {
        if (i == SHOWN_NAME_MAX) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        unsigned char c = (unsigned char)name.data[i];
        buf[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    buf[n] = '\0';
    return buf;
}

static bool take(Parser *p, size_t n, const uint8_t **out, const char *what)
{
    if (n > remaining(p))
        return fail(p, "file truncated: %s needs %zu bytes at offset %zu, only %zu left", what, n,
                    p->pos, remaining(p));
    *out = p->data + p->pos;
    p->pos += n;
    return true;
}

static bool read_uint(Parser *p, size_t size, uint64_t *out, const char *what)
{
    const uint8_t *bytes = NULL;
    if (!take(p, size, &bytes, what))
        return false;
    *out = load_le(bytes, size);
    return true;
}

static bool read_u32(Parser *p, uint32_t *out, const char *what)
{
    uint64_t v;
    if (!read_uint(p, 4, &v, what))
        return false;
    *out = (uint32_t)v;
    return true;
}

// A gguf string: u64 length + bytes, the length checked against what remains.
static bool read_string(Parser *p, GgufString *out, const char *what)
{
    uint64_t len;
    if (!read_uint(p, 8, &len, what))
        return false;
    if (len > remaining(p))
        return fail(p,
                    "%s: string length %llu at offset %zu exceeds the %zu bytes left in the "
                    "file",
                    what, (unsigned long long)len, p->pos - 8, remaining(p));
    out->data = (const char *)p->data + p->pos;
    out->len = len;
    p->pos += (size_t)len;
    return true;
}

// Keys and tensor names: non-empty, bounded, and free of NUL bytes (lookups take C
// strings, so a name with a NUL inside could never be found and would alias another).
static bool read_name(Parser *p, GgufString *out, uint64_t max_len, const char *what)
{
    size_t start = p->pos;
    if (!read_string(p, out, what))
        return false;
    char shown[SHOWN_NAME_MAX + 8];
    if (out->len == 0)
        return fail(p, "%s at offset %zu is empty", what, start);
    if (out->len > max_len)
        return fail(p, "%s at offset %zu is %llu bytes long (at most %llu allowed)", what, start,
                    (unsigned long long)out->len, (unsigned long long)max_len);
    if (memchr(out->data, '\0', (size_t)out->len))
        return fail(p, "%s '%s' at offset %zu contains a NUL byte", what,
                    show(*out, shown, sizeof shown), start);
    return true;
}

static bool read_array(Parser *p, GgufKv *kv, const char *key_shown)
{
    uint32_t elem_type;
    uint64_t count;
    char what[128];
    snprintf(what, sizeof what, "array header of key '%s'", key_shown);
    if (!read_u32(p, &elem_type, what) || !read_uint(p, 8, &count, what))
        return false;
    if (elem_type == GGUF_VALUE_ARRAY)
        return fail(p, "key '%s': nested arrays are not supported", key_shown);
    if (elem_type >= GGUF_VALUE_TYPE_COUNT)
        return fail(p, "key '%s': unknown array element type %u", key_shown, elem_type);
    kv->array_type = (GgufValueType)elem_type;
    kv->array_count = count;
    kv->array_data = p->data + p->pos;

    size_t elem_size = value_types[elem_type].size;
    if (elem_type != GGUF_VALUE_STRING) {
        if (count > remaining(p) / elem_size)
            return fail(p,
                        "key '%s': array of %llu %s elements needs more than the %zu bytes "
                        "left in the file",
                        key_shown, (unsigned long long)count, value_types[elem_type].name,
                        remaining(p));
        p->pos += (size_t)count * elem_size;
        return true;
    }

    // Strings: each needs at least its 8-byte length, which bounds the offsets table.
    if (count > remaining(p) / 8)
        return fail(p,
                    "key '%s': array of %llu strings needs more than the %zu bytes left in "
                    "the file",
                    key_shown, (unsigned long long)count, remaining(p));
    uint64_t *offsets = malloc(count > 0 ? (size_t)count * sizeof *offsets : 1);
    if (!offsets)
        return fail(p, "key '%s': out of memory for %llu string offsets", key_shown,
                    (unsigned long long)count);
    kv->string_offsets = offsets; // owned by the kv from here, freed by gguf_close
    size_t start = p->pos;
    for (uint64_t i = 0; i < count; i++) {
        offsets[i] = p->pos - start;
        if (remaining(p) < 8)
            return fail(p,
                        "file truncated: key '%s': string %llu of %llu has no length at "
                        "offset %zu",
                        key_shown, (unsigned long long)i, (unsigned long long)count, p->pos);
        uint64_t len = load_le(p->data + p->pos, 8);
        p->pos += 8;
        if (len > remaining(p))
            return fail(p,
                        "key '%s': string %llu of %llu has length %llu but only %zu bytes "
                        "are left in the file",
                        key_shown, (unsigned long long)i, (unsigned long long)count,
                        (unsigned long long)len, remaining(p));
        p->pos += (size_t)len;
    }
    return true;
}

static bool read_kv(Parser *p, GgufKv *kv, uint64_t index)
{
    char what[128];
    snprintf(what, sizeof what, "key %llu", (unsigned long long)index);
    if (!read_name(p, &kv->key, MAX_KEY_LEN, what))
        return false;
    char key_shown[SHOWN_NAME_MAX + 8];
    show(kv->key, key_shown, sizeof key_shown);

    uint32_t type;
    snprintf(what, sizeof what, "type of key '%s'", key_shown);
    if (!read_u32(p, &type, what))
        return false;
    if (type >= GGUF_VALUE_TYPE_COUNT)
        return fail(p, "key '%s': unknown value type %u", key_shown, type);
    kv->type = (GgufValueType)type;

    snprintf(what, sizeof what, "value of key '%s'", key_shown);
    if (kv->type == GGUF_VALUE_ARRAY)
        return read_array(p, kv, key_shown);
    if (kv->type == GGUF_VALUE_STRING)
        return read_string(p, &kv->value.str, what);

    size_t size = value_types[type].size;
    uint64_t bits;
    if (!read_uint(p, size, &bits, what))
        return false;
    if (is_signed_type(kv->type))
        kv->value.i64 = sign_extend(bits, size);
    else if (is_float_type(kv->type))
        kv->value.f64 = decode_float(bits, size);
    else
        kv->value.u64 = bits;
    return true;
}

static bool read_alignment(Parser *p, GgufFileImpl *impl)
{
    GgufFile *file = &impl->file;
    file->alignment = GGUF_DEFAULT_ALIGNMENT;
    size_t i = index_find(&impl->kv_index, "general.alignment");
    if (i == SIZE_MAX)
        return true;
    const GgufKv *kv = &file->kv[i];
    if (kv->type != GGUF_VALUE_UINT32)
        return fail(p, "general.alignment has type %s (must be uint32)",
                    value_types[kv->type].name);
    uint64_t a = kv->value.u64;
    if (a == 0 || (a & (a - 1)) != 0)
        return fail(p, "general.alignment %llu is not a power of two", (unsigned long long)a);
    file->alignment = (uint32_t)a;
    return true;
}

static bool read_tensor_info(Parser *p, const GgufFile *file, GgufTensor *t, uint64_t index)
{
    char what[128];
    snprintf(what, sizeof what, "name of tensor %llu", (unsigned long long)index);
    if (!read_name(p, &t->name, MAX_TENSOR_NAME_LEN, what))
        return false;
    char name[SHOWN_NAME_MAX + 8];
    show(t->name, name, sizeof name);
    snprintf(what, sizeof what, "shape of tensor '%s'", name);

    if (!read_u32(p, &t->n_dims, what))
        return false;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return fail(p, "tensor '%s': %u dimensions (must be 1 to %d)", name, t->n_dims,
                    GGUF_MAX_DIMS);
    t->n_elements = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims)
            continue;
        if (!read_uint(p, 8, &t->ne[d], what))
            return false;
        // Zero-sized dimensions are rejected: no model tensor is empty, and an empty one
        // would have no data range to check.
        if (t->ne[d] == 0)
            return fail(p, "tensor '%s': dimension %u is 0", name, d);
        if (t->ne[d] > (uint64_t)INT64_MAX / t->n_elements)
            return fail(p, "tensor '%s': element count overflows (dimension %u is %llu)", name, d,
                        (unsigned long long)t->ne[d]);
        t->n_elements *= t->ne[d];
    }

    snprintf(what, sizeof what, "type of tensor '%s'", name);
    if (!read_u32(p, &t->type, what))
        return false;
    const PonderTypeTraits *traits = ponder_type_traits(t->type);
    if (!traits)
        return fail(p, "tensor '%s': unknown or unsupported type id %u", name, t->type);
    if (!traits->is_weight_type)
        return fail(p, "tensor '%s': type %s (id %u) is not supported for stored tensors", name,
                    traits->name, t->type);
    uint64_t row_bytes;
    if (!ponder_row_bytes(t->type, t->ne[0], &row_bytes))
        return fail(p, "tensor '%s': row length %llu is not a multiple of the %s block length %u",
                    name, (unsigned long long)t->ne[0], traits->name, traits->block_len);
    uint64_t n_rows = t->n_elements / t->ne[0];
    if (row_bytes > UINT64_MAX / n_rows)
        return fail(p, "tensor '%s': byte size overflows", name);
    t->n_bytes = row_bytes * n_rows;

    snprintf(what, sizeof what, "offset of tensor '%s'", name);
    if (!read_uint(p, 8, &t->offset, what))
        return false;
    if (t->offset % file->alignment != 0)
        return fail(p, "tensor '%s': offset %llu is not a multiple of the alignment %u", name,
                    (unsigned long long)t->offset, file->alignment);
    return true;
}

// Data ranges inside the file, and no two tensors sharing bytes.
static int compare_offsets(const void *a, const void *b)
{
    const GgufTensor *x = *(const GgufTensor *const *)a, *y = *(const GgufTensor *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

static bool check_data_ranges(Parser *p, GgufFile *file)
{
    if (file->n_tensors == 0)
        return true;
    uint64_t data_size = file->data_offset <= p->size ? p->size - file->data_offset : 0;
    char name[SHOWN_NAME_MAX + 8];
    for (uint64_t i = 0; i < file->n_tensors; i++) {
        GgufTensor *t = &file->tensors[i];
        if (file->data_offset > p->size || t->offset > data_size ||
            t->n_bytes > data_size - t->offset) {
            unsigned long long begin = (unsigned long long)file->data_offset + t->offset;
            return fail(p, "tensor '%s': data [%llu, %llu) extends past end of file (size %zu)",
                        show(t->name, name, sizeof name), begin,
                        begin + (unsigned long long)t->n_bytes, p->size);
        }
        t->data = p->data + file->data_offset + t->offset;
    }

    const GgufTensor **sorted = malloc((size_t)file->n_tensors * sizeof *sorted);
    if (!sorted)
        return fail(p, "out of memory sorting %llu tensors", (unsigned long long)file->n_tensors);
    for (uint64_t i = 0; i < file->n_tensors; i++)
        sorted[i] = &file->tensors[i];
    qsort(sorted, (size_t)file->n_tensors, sizeof *sorted, compare_offsets);
    bool ok = true;
    for (uint64_t i = 1; i < file->n_tensors && ok; i++) {
        const GgufTensor *a = sorted[i - 1], *b = sorted[i];
        if (b->offset - a->offset < a->n_bytes) {
            char other[SHOWN_NAME_MAX + 8];
            ok = fail(p, "tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap",
                      show(a->name, name, sizeof name), (unsigned long long)a->offset,
                      (unsigned long long)(a->offset + a->n_bytes),
                      show(b->name, other, sizeof other), (unsigned long long)b->offset,
                      (unsigned long long)(b->offset + b->n_bytes));
        }
    }
    free(sorted);
    return ok;
}

static bool parse_header(Parser *p, GgufFile *file)
{
    uint64_t magic;
    if (!read_uint(p, 4, &magic, "magic"))
        return false;
    if (magic != GGUF_MAGIC)
        return fail(p, "not a GGUF file (magic %02x %02x %02x %02x, expected \"GGUF\")", p->data[0],
                    p->data[1], p->data[2], p->data[3]);
    if (!read_u32(p, &file->version, "version"))
        return false;
    if (file->version == 1)
        return fail(p, "GGUF version 1 is not supported (it used 32-bit counts); re-convert "
                       "the file with a current tool");
    if (file->version == 0x02000000 || file->version == 0x03000000)
        return fail(p, "GGUF version field is byte-swapped: big-endian GGUF files are not "
                       "supported");
    if (file->version != 2 && file->version != 3)
        return fail(p, "unsupported GGUF version %u (expected 2 or 3)", file->version);
    if (!read_uint(p, 8, &file->n_tensors, "tensor count") ||
        !read_uint(p, 8, &file->n_kv, "kv count"))
        return false;
    if (file->n_kv > MAX_KV_COUNT)
        return fail(p, "kv count %llu exceeds the limit of %d", (unsigned long long)file->n_kv,
                    MAX_KV_COUNT);
    if (file->n_kv > remaining(p) / MIN_KV_BYTES)
        return fail(p, "kv count %llu is more than the %zu bytes left in the file can hold",
                    (unsigned long long)file->n_kv, remaining(p));
    return true;
}

static bool parse(Parser *p, GgufFileImpl *impl)
{
    GgufFile *file = &impl->file;
    if (!parse_header(p, file))
        return false;

    // Key/value pairs (counts were bounded by the file size above).
    file->kv = calloc(file->n_kv > 0 ? (size_t)file->n_kv : 1, sizeof *file->kv);
    if (!file->kv)
        return fail(p, "out of memory for %llu keys", (unsigned long long)file->n_kv);
    for (uint64_t i = 0; i < file->n_kv; i++)
        if (!read_kv(p, &file->kv[i], i))
            return false;
    size_t dup_a, dup_b;
    bool oom;
    char shown[SHOWN_NAME_MAX + 8];
    if (!index_build(&impl->kv_index, file, (size_t)file->n_kv, kv_name, &dup_a, &dup_b, &oom))
        return oom ? fail(p, "out of memory indexing keys")
                   : fail(p, "duplicate key '%s' (entries %zu and %zu)",
                          show(file->kv[dup_b].key, shown, sizeof shown), dup_a, dup_b);
    if (!read_alignment(p, impl))
        return false;

    // Tensor infos, then the data section at the next alignment boundary.
    if (file->n_tensors > MAX_TENSOR_COUNT)
        return fail(p, "tensor count %llu exceeds the limit of %d",
                    (unsigned long long)file->n_tensors, MAX_TENSOR_COUNT);
    if (file->n_tensors > remaining(p) / MIN_TENSOR_INFO_BYTES)
        return fail(p, "tensor count %llu is more than the %zu bytes left in the file can hold",
                    (unsigned long long)file->n_tensors, remaining(p));
    file->tensors =
        calloc(file->n_tensors > 0 ? (size_t)file->n_tensors : 1, sizeof *file->tensors);
    if (!file->tensors)
        return fail(p, "out of memory for %llu tensors", (unsigned long long)file->n_tensors);
    for (uint64_t i = 0; i < file->n_tensors; i++)
        if (!read_tensor_info(p, file, &file->tensors[i], i))
            return false;
    if (!index_build(&impl->tensor_index, file, (size_t)file->n_tensors, tensor_name, &dup_a,
                     &dup_b, &oom))
        return oom ? fail(p, "out of memory indexing tensors")
                   : fail(p, "duplicate tensor name '%s' (tensors %zu and %zu)",
                          show(file->tensors[dup_b].name, shown, sizeof shown), dup_a, dup_b);
    uint64_t pad = (file->alignment - p->pos % file->alignment) % file->alignment;
    file->data_offset = (uint64_t)p->pos + pad; // pos <= size and pad < 2^32: no overflow
    return check_data_ranges(p, file);
}

// ---- Open / close ------------------------------------------------------------------

static GgufFile *open_image(const uint8_t *data, size_t size, bool owns_map, char *err,
                            size_t err_size)
{
    GgufFileImpl *impl = calloc(1, sizeof *impl);
    if (!impl) {
        if (err && err_size)
            snprintf(err, err_size, "out of memory");
        return NULL;
    }
    impl->file.map = data;
    impl->file.map_size = size;
    Parser p = {.data = data, .size = size, .err = err, .err_size = err_size};
    if (!parse(&p, impl)) {
        impl->file.owns_map = false; // the caller unmaps on failure
        gguf_close(&impl->file);
        return NULL;
    }
    impl->file.owns_map = owns_map;
    return &impl->file;
}

GgufFile *gguf_open_memory(const void *data, size_t size, char *err, size_t err_size)
{
    if (!data && size > 0) {
        if (err && err_size)
            snprintf(err, err_size, "no data");
        return NULL;
    }
    static const uint8_t empty[1];
    return open_image(data ? data : empty, size, false, err, err_size);
}

GgufFile *gguf_open(const char *path, char *err, size_t err_size)
{
    char reason[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (err && err_size)
            snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    const char *problem = NULL;
    if (fstat(fd, &st) != 0)
        problem = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        problem = "not a regular file";
    else if (st.st_size == 0)
        problem = "file is empty";
    else if ((uint64_t)st.st_size > SIZE_MAX)
        problem = "file too large for this address space";
    void *map = MAP_FAILED;
    if (!problem) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
            problem = strerror(errno);
    }
    close(fd); // the mapping keeps the file alive
    if (problem) {
        if (err && err_size)
            snprintf(err, err_size, "%s: %s", path, problem);
        return NULL;
    }
    GgufFile *file = open_image(map, (size_t)st.st_size, true, reason, sizeof reason);
    if (!file) {
        munmap(map, (size_t)st.st_size);
        if (err && err_size)
            snprintf(err, err_size, "%s: %s", path, reason);
    }
    return file;
}

void gguf_close(GgufFile *file)
{
    if (!file)
        return;
    GgufFileImpl *impl = (GgufFileImpl *)file;
    if (file->kv)
        for (uint64_t i = 0; i < file->n_kv; i++)
            free((void *)file->kv[i].string_offsets);
    free(file->kv);
    free(file->tensors);
    free(impl->kv_index.sorted);
    free(impl->tensor_index.sorted);
    if (file->owns_map)
        munmap((void *)file->map, file->map_size);
    free(impl);
}

// ---- Lookups and getters -----------------------------------------------------------

const GgufKv *gguf_find_kv(const GgufFile *file, const char *key)
{
    if (!file)
        return NULL;
    size_t i = index_find(&((const GgufFileImpl *)file)->kv_index, key);
    return i == SIZE_MAX ? NULL : &file->kv[i];
}

const GgufTensor *gguf_find_tensor(const GgufFile *file, const char *name)
{
    if (!file)
        return NULL;
    size_t i = index_find(&((const GgufFileImpl *)file)->tensor_index, name);
    return i == SIZE_MAX ? NULL : &file->tensors[i];
}

// Any integer value as a sign and magnitude pair, so range checks need no casts.
static bool kv_integer(const GgufKv *kv, bool *negative, uint64_t *magnitude)
{
    if (!kv)
        return false;
    if (is_unsigned_type(kv->type)) {
        *negative = false;
        *magnitude = kv->value.u64;
        return true;
    }
    if (is_signed_type(kv->type)) {
        int64_t v = kv->value.i64;
        *negative = v < 0;
        *magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        return true;
    }
    return false;
}

bool gguf_get_u64(const GgufFile *file, const char *key, uint64_t *out)
{
    bool negative;
    uint64_t magnitude;
    if (!kv_integer(gguf_find_kv(file, key), &negative, &magnitude) || negative)
        return false;
    *out = magnitude;
    return true;
}

bool gguf_get_u32(const GgufFile *file, const char *key, uint32_t *out)
{
    uint64_t v;
    if (!gguf_get_u64(file, key, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

bool gguf_get_i32(const GgufFile *file, const char *key, int32_t *out)
{
    bool negative;
    uint64_t magnitude;
    if (!kv_integer(gguf_find_kv(file, key), &negative, &magnitude))
        return false;
    if (negative ? magnitude > (uint64_t)INT32_MAX + 1 : magnitude > INT32_MAX)
        return false;
    *out = negative ? (int32_t)(-(int64_t)magnitude) : (int32_t)magnitude;
    return true;
}

bool gguf_get_f32(const GgufFile *file, const char *key, float *out)
{
    const GgufKv *kv = gguf_find_kv(file, key);
    if (!kv || !is_float_type(kv->type))
        return false;
    *out = (float)kv->value.f64;
    return true;
}

bool gguf_get_bool(const GgufFile *file, const char *key, bool *out)
{
    const GgufKv *kv = gguf_find_kv(file, key);
    if (!kv || kv->type != GGUF_VALUE_BOOL)
        return false;
    *out = kv->value.u64 != 0;
    return true;
}

bool gguf_get_string(const GgufFile *file, const char *key, GgufString *out)
{
    const GgufKv *kv = gguf_find_kv(file, key);
    if (!kv || kv->type != GGUF_VALUE_STRING)
        return false;
    *out = kv->value.str;
    return true;
}

static bool array_element(const GgufKv *kv, uint64_t index, uint64_t *bits, size_t *size)
{
    if (!kv || kv->type != GGUF_VALUE_ARRAY || index >= kv->array_count)
        return false;
    *size = value_types[kv->array_type].size;
    if (*size == 0)
        return false;
    *bits = load_le(kv->array_data + index * *size, *size);
    return true;
}

bool gguf_array_string(const GgufKv *kv, uint64_t index, GgufString *out)
{
    if (!kv || kv->type != GGUF_VALUE_ARRAY || kv->array_type != GGUF_VALUE_STRING ||
        index >= kv->array_count)
        return false;
    const uint8_t *at = kv->array_data + kv->string_offsets[index];
    out->len = load_le(at, 8);
    out->data = (const char *)at + 8;
    return true;
}

bool gguf_array_i64(const GgufKv *kv, uint64_t index, int64_t *out)
{
    uint64_t bits;
    size_t size;
    if (!kv || !(is_signed_type(kv->array_type) || is_unsigned_type(kv->array_type)) ||
        !array_element(kv, index, &bits, &size))
        return false;
    if (is_signed_type(kv->array_type)) {
        *out = sign_extend(bits, size);
        return true;
    }
    if (bits > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)bits;
    return true;
}

bool gguf_array_f64(const GgufKv *kv, uint64_t index, double *out)
{
    uint64_t bits;
    size_t size;
    if (!kv || !is_float_type(kv->array_type) || !array_element(kv, index, &bits, &size))
        return false;
    *out = decode_float(bits, size);
    return true;
}

bool gguf_string_equals(GgufString s, const char *lit)
{
    size_t len = strlen(lit);
    return s.len == len && (len == 0 || memcmp(s.data, lit, len) == 0);
}

char *gguf_string_copy(GgufString s, char *buf, size_t buf_size)
{
    if (buf_size == 0)
        return buf;
    size_t n = s.len < buf_size - 1 ? (size_t)s.len : buf_size - 1;
    if (n > 0)
        memcpy(buf, s.data, n);
    buf[n] = '\0';
    return buf;
}
