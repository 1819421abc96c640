// GGUF v2/v3 reader and writer.
//
// The reader maps the file read-only and validates every count, offset, size and
// string length against the mapping before anything is handed out, so a hostile file
// yields an error message and never an out-of-bounds read. Strings returned by the
// reader point into the mapping and are NOT NUL-terminated (GgufString has a length).
//
// What the reader rejects (each with a message naming the key or tensor): versions other
// than 2 and 3; counts or lengths larger than the rest of the file; more than 2^20 keys or
// 2^20 tensors; empty keys or tensor names, names with NUL bytes, keys over 65535 bytes,
// tensor names over 256 bytes; duplicate keys or tensor names; unknown value types and
// nested arrays; a general.alignment that is not a uint32 power of two; n_dims outside
// 1..4; any ne[i] == 0 (no model tensor is empty); element counts over 2^63 - 1; unknown
// tensor types and the activation-only ones (q8_1, q8_K); rows that are not a whole
// number of blocks; offsets that are not multiples of the alignment; data past the end of
// the file; and tensors whose data ranges overlap.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    GGUF_DEFAULT_ALIGNMENT = 32,
    GGUF_MAX_DIMS = 4,
};

typedef enum GgufValueType {
    GGUF_VALUE_UINT8 = 0,
    GGUF_VALUE_INT8 = 1,
    GGUF_VALUE_UINT16 = 2,
    GGUF_VALUE_INT16 = 3,
    GGUF_VALUE_UINT32 = 4,
    GGUF_VALUE_INT32 = 5,
    GGUF_VALUE_FLOAT32 = 6,
    GGUF_VALUE_BOOL = 7,
    GGUF_VALUE_STRING = 8,
    GGUF_VALUE_ARRAY = 9,
    GGUF_VALUE_UINT64 = 10,
    GGUF_VALUE_INT64 = 11,
    GGUF_VALUE_FLOAT64 = 12,
    GGUF_VALUE_TYPE_COUNT
} GgufValueType;

typedef struct GgufString {
    const char *data; // points into the mapping; not NUL-terminated
    uint64_t len;
} GgufString;

typedef struct GgufKv {
    GgufString key;
    GgufValueType type;
    union {
        uint64_t u64; // every unsigned integer type and bool, widened
        int64_t i64;  // every signed integer type, widened
        double f64;   // FLOAT32 and FLOAT64, widened
        GgufString str;
    } value;
    // Only for type == GGUF_VALUE_ARRAY:
    GgufValueType array_type; // element type (never ARRAY: nested arrays are rejected)
    uint64_t array_count;
    const uint8_t *array_data; // first element in the mapping
    // For arrays of strings: offsets of each element relative to array_data,
    // built while validating so that element i is found in O(1).
    const uint64_t *string_offsets;
} GgufKv;

typedef struct GgufTensor {
    GgufString name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; // ne[0] is the fastest-varying (row length); unused dims = 1
    uint32_t type;              // a PonderType (ggml type id)
    uint64_t offset;            // relative to the start of the data section
    uint64_t n_elements;
    uint64_t n_bytes;
    const void *data; // inside the mapping, bounds-checked
} GgufTensor;

typedef struct GgufFile {
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    GgufKv *kv;
    uint64_t n_tensors;
    GgufTensor *tensors;
    uint64_t data_offset; // start of the tensor data section in the file
    const uint8_t *map;
    size_t map_size;
    bool owns_map; // true when the mapping came from gguf_open (munmap on close)
} GgufFile;

// Opens and validates PATH. On failure returns NULL and writes a message to ERR.
GgufFile *gguf_open(const char *path, char *err, size_t err_size);
// Validates an in-memory image (borrowed: must outlive the GgufFile). For tests/fuzzing.
GgufFile *gguf_open_memory(const void *data, size_t size, char *err, size_t err_size);
void gguf_close(GgufFile *file);

// Bytes per element of a fixed-size value type; 0 for STRING, ARRAY and unknown types.
size_t gguf_value_type_size(GgufValueType type);
// "uint32", "string", ... ("unknown" for ids out of range).
const char *gguf_value_type_name(GgufValueType type);

const GgufKv *gguf_find_kv(const GgufFile *file, const char *key);
const GgufTensor *gguf_find_tensor(const GgufFile *file, const char *name);

// Typed getters: false when the key is absent or has an incompatible type.
// Integer getters accept any integer type whose value fits the destination.
bool gguf_get_u32(const GgufFile *file, const char *key, uint32_t *out);
bool gguf_get_u64(const GgufFile *file, const char *key, uint64_t *out);
bool gguf_get_i32(const GgufFile *file, const char *key, int32_t *out);
bool gguf_get_f32(const GgufFile *file, const char *key, float *out);
bool gguf_get_bool(const GgufFile *file, const char *key, bool *out);
bool gguf_get_string(const GgufFile *file, const char *key, GgufString *out);

// Array element access (index checked; false on type mismatch or out of range).
bool gguf_array_string(const GgufKv *kv, uint64_t index, GgufString *out);
bool gguf_array_i64(const GgufKv *kv, uint64_t index, int64_t *out); // any integer element
bool gguf_array_f64(const GgufKv *kv, uint64_t index, double *out);  // float elements

// True when S equals the NUL-terminated string LIT.
bool gguf_string_equals(GgufString s, const char *lit);
// Copies S into BUF as a NUL-terminated string, truncating; returns BUF.
char *gguf_string_copy(GgufString s, char *buf, size_t buf_size);

// ---- Writer ---------------------------------------------------------------------

typedef struct GgufWriter GgufWriter;

// Produces a tensor's bytes at write time (so multi-GiB files need not sit in memory).
// Must write exactly n_bytes to DST; returns false (with a message in ERR) on failure.
typedef bool (*GgufTensorFill)(void *user, void *dst, uint64_t n_bytes, char *err, size_t err_size);

GgufWriter *gguf_writer_new(void);
void gguf_writer_free(GgufWriter *writer);
void gguf_writer_set_alignment(GgufWriter *writer, uint32_t alignment);

// Setters copy KEY and values. Setting a key twice replaces the earlier value.
void gguf_writer_set_u32(GgufWriter *writer, const char *key, uint32_t value);
void gguf_writer_set_i32(GgufWriter *writer, const char *key, int32_t value);
void gguf_writer_set_u64(GgufWriter *writer, const char *key, uint64_t value);
void gguf_writer_set_f32(GgufWriter *writer, const char *key, float value);
void gguf_writer_set_bool(GgufWriter *writer, const char *key, bool value);
void gguf_writer_set_string(GgufWriter *writer, const char *key, const char *value);
void gguf_writer_set_string_n(GgufWriter *writer, const char *key, const char *value, size_t len);
// LENS may be NULL when every value is NUL-terminated.
void gguf_writer_set_array_strings(GgufWriter *writer, const char *key, const char *const *values,
                                   const size_t *lens, uint64_t count);
void gguf_writer_set_array_i32(GgufWriter *writer, const char *key, const int32_t *values,
                               uint64_t count);
void gguf_writer_set_array_f32(GgufWriter *writer, const char *key, const float *values,
                               uint64_t count);
// Copies every key/value of SRC (used by `quantize` to keep the metadata).
void gguf_writer_copy_kv(GgufWriter *writer, const GgufFile *src);

// Adds a tensor whose bytes are borrowed (DATA must stay valid until gguf_writer_write).
void gguf_writer_add_tensor(GgufWriter *writer, const char *name, uint32_t type, uint32_t n_dims,
                            const uint64_t *ne, const void *data);
// Adds a tensor whose bytes are produced by FILL at write time.
void gguf_writer_add_tensor_fill(GgufWriter *writer, const char *name, uint32_t type,
                                 uint32_t n_dims, const uint64_t *ne, GgufTensorFill fill,
                                 void *user);

// Writes a GGUF v3 file to PATH (through a temporary file renamed into place, so a
// failure never leaves a half-written file under PATH). Returns false with a message.
bool gguf_writer_write(GgufWriter *writer, const char *path, char *err, size_t err_size);
