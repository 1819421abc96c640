// GGUF v3 writer.
//
// Metadata values are encoded to their little-endian file bytes when set, so writing is
// a concatenation. The setters return nothing (they are called in long lists); the first
// problem they meet (out of memory, a bad tensor shape, a duplicate name) is kept and
// reported by gguf_writer_write, which then writes nothing.
// The file goes to PATH.tmp-XXXXXX, is fsync'ed and renamed over PATH, so a failure
// (disk full, a fill callback's error) never leaves a half-written file under PATH.
#include "gguf.h"

#include "quant/quant.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    WRITER_MAX_KEY_LEN = 65535,
    WRITER_MAX_TENSOR_NAME_LEN = 256, // what the reader accepts
};

typedef struct ByteBuf {
    uint8_t *data;
    size_t len, cap;
    bool failed; // an allocation failed; the contents are incomplete
} ByteBuf;

typedef struct WriterKv {
    char *key;
    size_t key_len;
    GgufValueType type;
    ByteBuf value; // the value's bytes as they appear in the file, after the type
} WriterKv;

typedef struct WriterTensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    uint64_t n_bytes;
    uint64_t offset;  // assigned by gguf_writer_write
    const void *data; // borrowed, or NULL when FILL produces the bytes
    GgufTensorFill fill;
    void *user;
} WriterTensor;

struct GgufWriter {
    uint32_t alignment;
    WriterKv *kv;
    size_t n_kv, kv_cap;
    WriterTensor *tensors;
    size_t n_tensors, tensor_cap;
    char error[512]; // first problem met by a setter; empty when none
};

// ---- Byte buffers ------------------------------------------------------------------

static void buf_put(ByteBuf *b, const void *bytes, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->failed = true;
                return;
            }
            cap *= 2;
        }
        uint8_t *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static void buf_put_le(ByteBuf *b, uint64_t v, size_t size)
{
    uint8_t bytes[8];
    for (size_t i = 0; i < size; i++)
        bytes[i] = (uint8_t)(v >> (8 * i));
    buf_put(b, bytes, size);
}

static void buf_put_string(ByteBuf *b, const char *s, uint64_t len)
{
    buf_put_le(b, len, 8);
    buf_put(b, s, (size_t)len);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

// ---- Writer state ------------------------------------------------------------------

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
record_error(GgufWriter *w, const char *fmt, ...)
{
    if (w->error[0])
        return; // the first problem is the informative one
    va_list args;
    va_start(args, fmt);
    vsnprintf(w->error, sizeof w->error, fmt, args);
    va_end(args);
}

GgufWriter *gguf_writer_new(void)
{
    GgufWriter *w = calloc(1, sizeof *w);
    if (w)
        w->alignment = GGUF_DEFAULT_ALIGNMENT;
    return w;
}

void gguf_writer_free(GgufWriter *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].value.data);
    }
    for (size_t i = 0; i < w->n_tensors; i++)
        free(w->tensors[i].name);
    free(w->kv);
    free(w->tensors);
    free(w);
}

static bool is_alignment_key(const char *key, size_t len)
{
    static const char name[] = "general.alignment";
    return len == sizeof name - 1 && memcmp(key, name, len) == 0;
}

// Stores KEY = VALUE (taking VALUE's bytes), replacing an earlier value of the key.
static void store_kv(GgufWriter *w, const char *key, size_t key_len, GgufValueType type,
                     ByteBuf value)
{
    if (value.failed || !key || key_len == 0 || key_len > WRITER_MAX_KEY_LEN ||
        memchr(key, '\0', key_len)) {
        if (value.failed)
            record_error(w, "out of memory storing metadata");
        else
            record_error(w, "invalid key (empty, over %d bytes, or with a NUL byte)",
                         WRITER_MAX_KEY_LEN);
        free(value.data);
        return;
    }
    // Alignment lives in one place: the key, when present, is what the file says.
    if (is_alignment_key(key, key_len)) {
        if (type != GGUF_VALUE_UINT32)
            record_error(w, "general.alignment must be a uint32");
        else
            w->alignment =
                (uint32_t)(value.data[0] | (uint32_t)value.data[1] << 8 |
                           (uint32_t)value.data[2] << 16 | (uint32_t)value.data[3] << 24);
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        WriterKv *kv = &w->kv[i];
        if (kv->key_len == key_len && memcmp(kv->key, key, key_len) == 0) {
            free(kv->value.data);
            kv->type = type;
            kv->value = value;
            return;
        }
    }
    if (w->n_kv == w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap * 2 : 32;
        WriterKv *grown = realloc(w->kv, cap * sizeof *grown);
        if (!grown) {
            record_error(w, "out of memory storing metadata");
            free(value.data);
            return;
        }
        w->kv = grown;
        w->kv_cap = cap;
    }
    char *key_copy = malloc(key_len + 1);
    if (!key_copy) {
        record_error(w, "out of memory storing metadata");
        free(value.data);
        return;
    }
    memcpy(key_copy, key, key_len);
    key_copy[key_len] = '\0';
    w->kv[w->n_kv++] = (WriterKv){key_copy, key_len, type, value};
}

static void set_scalar(GgufWriter *w, const char *key, GgufValueType type, uint64_t bits)
{
    ByteBuf value = {0};
    buf_put_le(&value, bits, gguf_value_type_size(type));
    store_kv(w, key, key ? strlen(key) : 0, type, value);
}

void gguf_writer_set_alignment(GgufWriter *w, uint32_t alignment)
{
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        record_error(w, "alignment %u is not a power of two", alignment);
        return;
    }
    gguf_writer_set_u32(w, "general.alignment", alignment);
}

void gguf_writer_set_u32(GgufWriter *w, const char *key, uint32_t value)
{
    set_scalar(w, key, GGUF_VALUE_UINT32, value);
}

void gguf_writer_set_i32(GgufWriter *w, const char *key, int32_t value)
{
    set_scalar(w, key, GGUF_VALUE_INT32, (uint32_t)value);
}

void gguf_writer_set_u64(GgufWriter *w, const char *key, uint64_t value)
{
    set_scalar(w, key, GGUF_VALUE_UINT64, value);
}

void gguf_writer_set_f32(GgufWriter *w, const char *key, float value)
{
    set_scalar(w, key, GGUF_VALUE_FLOAT32, f32_bits(value));
}

void gguf_writer_set_bool(GgufWriter *w, const char *key, bool value)
{
    set_scalar(w, key, GGUF_VALUE_BOOL, value ? 1 : 0);
}

void gguf_writer_set_string_n(GgufWriter *w, const char *key, const char *value, size_t len)
{
    if (!value && len > 0) {
        record_error(w, "key '%s': NULL string", key ? key : "(null)");
        return;
    }
    ByteBuf buf = {0};
    buf_put_string(&buf, value, len);
    store_kv(w, key, key ? strlen(key) : 0, GGUF_VALUE_STRING, buf);
}

void gguf_writer_set_string(GgufWriter *w, const char *key, const char *value)
{
    gguf_writer_set_string_n(w, key, value, value ? strlen(value) : 0);
}

// False (recording why) for a NULL array with elements.
static bool array_values_present(GgufWriter *w, const char *key, const void *values, uint64_t count)
{
    if (values || count == 0)
        return true;
    record_error(w, "key '%s': NULL array of %llu values", key ? key : "(null)",
                 (unsigned long long)count);
    return false;
}

static void put_array_header(ByteBuf *buf, GgufValueType elem_type, uint64_t count)
{
    buf_put_le(buf, elem_type, 4);
    buf_put_le(buf, count, 8);
}

void gguf_writer_set_array_strings(GgufWriter *w, const char *key, const char *const *values,
                                   const size_t *lens, uint64_t count)
{
    if (!array_values_present(w, key, values, count))
        return;
    ByteBuf buf = {0};
    put_array_header(&buf, GGUF_VALUE_STRING, count);
    for (uint64_t i = 0; i < count; i++) {
        const char *s = values[i] ? values[i] : "";
        buf_put_string(&buf, s, lens && values[i] ? lens[i] : strlen(s));
    }
    store_kv(w, key, key ? strlen(key) : 0, GGUF_VALUE_ARRAY, buf);
}

void gguf_writer_set_array_i32(GgufWriter *w, const char *key, const int32_t *values,
                               uint64_t count)
{
    if (!array_values_present(w, key, values, count))
        return;
    ByteBuf buf = {0};
    put_array_header(&buf, GGUF_VALUE_INT32, count);
    for (uint64_t i = 0; i < count; i++)
        buf_put_le(&buf, (uint32_t)values[i], 4);
    store_kv(w, key, key ? strlen(key) : 0, GGUF_VALUE_ARRAY, buf);
}

void gguf_writer_set_array_f32(GgufWriter *w, const char *key, const float *values, uint64_t count)
{
    if (!array_values_present(w, key, values, count))
        return;
    ByteBuf buf = {0};
    put_array_header(&buf, GGUF_VALUE_FLOAT32, count);
    for (uint64_t i = 0; i < count; i++)
        buf_put_le(&buf, f32_bits(values[i]), 4);
    store_kv(w, key, key ? strlen(key) : 0, GGUF_VALUE_ARRAY, buf);
}

// A scalar of a parsed file, re-encoded to its file bytes.
static uint64_t scalar_bits(const GgufKv *kv)
{
    switch (kv->type) {
    case GGUF_VALUE_FLOAT32: return f32_bits((float)kv->value.f64);
    case GGUF_VALUE_FLOAT64: return f64_bits(kv->value.f64);
    case GGUF_VALUE_INT8:
    case GGUF_VALUE_INT16:
    case GGUF_VALUE_INT32:
    case GGUF_VALUE_INT64:
        return (uint64_t)kv->value.i64; // two's complement; the low bytes are written
    default: return kv->value.u64;
    }
}

void gguf_writer_copy_kv(GgufWriter *w, const GgufFile *src)
{
    for (uint64_t i = 0; i < src->n_kv; i++) {
        const GgufKv *kv = &src->kv[i];
        ByteBuf buf = {0};
        if (kv->type == GGUF_VALUE_STRING) {
            buf_put_string(&buf, kv->value.str.data, kv->value.str.len);
        } else if (kv->type == GGUF_VALUE_ARRAY) {
            put_array_header(&buf, kv->array_type, kv->array_count);
            if (kv->array_type == GGUF_VALUE_STRING) {
                GgufString s;
                for (uint64_t j = 0; gguf_array_string(kv, j, &s); j++)
                    buf_put_string(&buf, s.data, s.len);
            } else {
                // Fixed-size elements are already little-endian file bytes.
                buf_put(&buf, kv->array_data,
                        (size_t)kv->array_count * gguf_value_type_size(kv->array_type));
            }
        } else {
            buf_put_le(&buf, scalar_bits(kv), gguf_value_type_size(kv->type));
        }
        store_kv(w, kv->key.data, (size_t)kv->key.len, kv->type, buf);
    }
}

// ---- Tensors -----------------------------------------------------------------------

static void add_tensor(GgufWriter *w, const char *name, uint32_t type, uint32_t n_dims,
                       const uint64_t *ne, const void *data, GgufTensorFill fill, void *user)
{
    size_t name_len = name ? strlen(name) : 0;
    if (name_len == 0 || name_len > WRITER_MAX_TENSOR_NAME_LEN) {
        record_error(w, "tensor name '%.64s' is empty or longer than %d bytes", name ? name : "",
                     WRITER_MAX_TENSOR_NAME_LEN);
        return;
    }
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS) {
        record_error(w, "tensor '%s': %u dimensions (must be 1 to %d)", name, n_dims,
                     GGUF_MAX_DIMS);
        return;
    }
    const PonderTypeTraits *traits = ponder_type_traits(type);
    if (!traits || !traits->is_weight_type) {
        record_error(w, "tensor '%s': type id %u cannot be stored", name, type);
        return;
    }
    WriterTensor t = {.type = type, .n_dims = n_dims, .data = data, .fill = fill, .user = user};
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] == 0 || t.ne[d] > (uint64_t)INT64_MAX / n_elements) {
            record_error(w, "tensor '%s': dimension %u (%llu) is 0 or overflows", name, d,
                         (unsigned long long)t.ne[d]);
            return;
        }
        n_elements *= t.ne[d];
    }
    uint64_t row_bytes;
    if (!ponder_row_bytes(type, t.ne[0], &row_bytes)) {
        record_error(w, "tensor '%s': row length %llu is not a multiple of the %s block length %u",
                     name, (unsigned long long)t.ne[0], traits->name, traits->block_len);
        return;
    }
    uint64_t n_rows = n_elements / t.ne[0];
    if (row_bytes > UINT64_MAX / n_rows) {
        record_error(w, "tensor '%s': byte size overflows", name);
        return;
    }
    t.n_bytes = row_bytes * n_rows;
    for (size_t i = 0; i < w->n_tensors; i++) {
        if (strcmp(w->tensors[i].name, name) == 0) {
            record_error(w, "duplicate tensor name '%s'", name);
            return;
        }
    }
    if (w->n_tensors == w->tensor_cap) {
        size_t cap = w->tensor_cap ? w->tensor_cap * 2 : 64;
        WriterTensor *grown = realloc(w->tensors, cap * sizeof *grown);
        if (!grown) {
            record_error(w, "out of memory adding tensor '%s'", name);
            return;
        }
        w->tensors = grown;
        w->tensor_cap = cap;
    }
    t.name = strdup(name);
    if (!t.name) {
        record_error(w, "out of memory adding tensor '%s'", name);
        return;
    }
    w->tensors[w->n_tensors++] = t;
}

void gguf_writer_add_tensor(GgufWriter *w, const char *name, uint32_t type, uint32_t n_dims,
                            const uint64_t *ne, const void *data)
{
    if (!data) {
        record_error(w, "tensor '%s': no data", name ? name : "(null)");
        return;
    }
    add_tensor(w, name, type, n_dims, ne, data, NULL, NULL);
}

void gguf_writer_add_tensor_fill(GgufWriter *w, const char *name, uint32_t type, uint32_t n_dims,
                                 const uint64_t *ne, GgufTensorFill fill, void *user)
{
    if (!fill) {
        record_error(w, "tensor '%s': no fill callback", name ? name : "(null)");
        return;
    }
    add_tensor(w, name, type, n_dims, ne, NULL, fill, user);
}

// ---- Writing -----------------------------------------------------------------------

static uint64_t padding_to(uint64_t pos, uint32_t alignment)
{
    return (alignment - pos % alignment) % alignment;
}

// Everything before the data section: header, metadata, tensor infos.
// Assigns each tensor its offset. False on overflow or out of memory.
static bool build_header(GgufWriter *w, ByteBuf *out, char *err, size_t err_size)
{
    buf_put(out, "GGUF", 4);
    buf_put_le(out, 3, 4);
    buf_put_le(out, w->n_tensors, 8);
    buf_put_le(out, w->n_kv, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        buf_put_string(out, w->kv[i].key, w->kv[i].key_len);
        buf_put_le(out, w->kv[i].type, 4);
        buf_put(out, w->kv[i].value.data, w->kv[i].value.len);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        WriterTensor *t = &w->tensors[i];
        uint64_t pad = padding_to(offset, w->alignment);
        if (pad > UINT64_MAX - offset || t->n_bytes > UINT64_MAX - offset - pad) {
            snprintf(err, err_size, "tensor data exceeds 2^64 bytes at '%s'", t->name);
            return false;
        }
        t->offset = offset + pad;
        offset = t->offset + t->n_bytes;
        buf_put_string(out, t->name, strlen(t->name));
        buf_put_le(out, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++)
            buf_put_le(out, t->ne[d], 8);
        buf_put_le(out, t->type, 4);
        buf_put_le(out, t->offset, 8);
    }
    if (out->failed) {
        snprintf(err, err_size, "out of memory building the file header");
        return false;
    }
    return true;
}

// Creates PATH.tmp-XXXXXX with a fresh suffix (O_EXCL), honouring the umask like a plain
// fopen would (mkstemp would force mode 0600 on the finished file).
static int create_temp(const char *path, char *tmp, size_t tmp_size)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t state = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^
                     ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)tmp;
    for (int attempt = 0; attempt < 100; attempt++) {
        char suffix[7];
        for (int i = 0; i < 6; i++) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            suffix[i] = alphabet[(state >> 33) % (sizeof alphabet - 1)];
        }
        suffix[6] = '\0';
        if ((size_t)snprintf(tmp, tmp_size, "%s.tmp-%s", path, suffix) >= tmp_size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

static bool write_all(FILE *f, const void *data, uint64_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        size_t chunk = n < ((size_t)1 << 30) ? (size_t)n : (size_t)1 << 30;
        if (fwrite(p, 1, chunk, f) != chunk)
            return false;
        p += chunk;
        n -= chunk;
    }
    return true;
}

static bool write_zeros(FILE *f, uint64_t n)
{
    static const uint8_t zeros[4096];
    while (n > 0) {
        size_t chunk = n < sizeof zeros ? (size_t)n : sizeof zeros;
        if (fwrite(zeros, 1, chunk, f) != chunk)
            return false;
        n -= chunk;
    }
    return true;
}

// Records the errno text of a failed write, fsync or close; returns false.
static bool io_failed(const char *what, char *err, size_t err_size)
{
    snprintf(err, err_size, "%s failed: %s", what, strerror(errno));
    return false;
}

// Writes the tensors' bytes in order, with zeros up to each aligned offset.
static bool write_tensor_data(GgufWriter *w, FILE *f, char *err, size_t err_size)
{
    uint64_t pos = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        WriterTensor *t = &w->tensors[i];
        if (!write_zeros(f, t->offset - pos))
            return io_failed("write", err, err_size);
        pos = t->offset + t->n_bytes;
        if (t->data) {
            if (!write_all(f, t->data, t->n_bytes))
                return io_failed("write", err, err_size);
            continue;
        }
        void *bytes = t->n_bytes <= SIZE_MAX ? malloc((size_t)t->n_bytes) : NULL;
        if (!bytes) {
            snprintf(err, err_size, "out of memory for tensor '%s' (%llu bytes)", t->name,
                     (unsigned long long)t->n_bytes);
            return false;
        }
        char reason[400] = "";
        bool ok = t->fill(t->user, bytes, t->n_bytes, reason, sizeof reason);
        if (!ok)
            snprintf(err, err_size, "tensor '%s': %s", t->name, reason[0] ? reason : "fill failed");
        else if (!write_all(f, bytes, t->n_bytes))
            ok = io_failed("write", err, err_size);
        free(bytes);
        if (!ok)
            return false;
    }
    return true;
}

// fsync of the directory makes the rename itself durable; failure here is not fatal.
static void sync_parent_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

bool gguf_writer_write(GgufWriter *w, const char *path, char *err, size_t err_size)
{
    char scratch[1];
    if (!err || err_size == 0) {
        err = scratch;
        err_size = sizeof scratch;
    }
    if (w->error[0]) {
        snprintf(err, err_size, "%s: %s", path, w->error);
        return false;
    }
    if (w->alignment == 0 || (w->alignment & (w->alignment - 1)) != 0) {
        snprintf(err, err_size, "%s: alignment %u is not a power of two", path, w->alignment);
        return false;
    }
    char reason[512] = "";
    ByteBuf header = {0};
    if (!build_header(w, &header, reason, sizeof reason)) {
        free(header.data);
        snprintf(err, err_size, "%s: %s", path, reason);
        return false;
    }

    char tmp[4096];
    int fd = create_temp(path, tmp, sizeof tmp);
    if (fd < 0) {
        free(header.data);
        snprintf(err, err_size, "%s: cannot create a temporary file: %s", path, strerror(errno));
        return false;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        free(header.data);
        snprintf(err, err_size, "%s: %s", tmp, strerror(saved));
        return false;
    }

    bool ok =
        ((write_all(f, header.data, header.len) &&
          write_zeros(f, padding_to(header.len, w->alignment))) ||
         io_failed("write", reason, sizeof reason)) &&
        write_tensor_data(w, f, reason, sizeof reason) &&
        ((fflush(f) == 0 && fsync(fileno(f)) == 0) || io_failed("write", reason, sizeof reason));
    free(header.data);
    if (fclose(f) != 0 && ok)
        ok = io_failed("close", reason, sizeof reason);
    if (ok && rename(tmp, path) != 0)
        ok = io_failed("rename", reason, sizeof reason);
    if (!ok) {
        unlink(tmp);
        snprintf(err, err_size, "%s: %s", path, reason);
        return false;
    }
    sync_parent_dir(path);
    return true;
}
