// Reader for Hugging Face safetensors checkpoints: one file, or shards listed by
// model.safetensors.index.json.
//
// A file is an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and [begin, end) byte range in the data that follows, then the data. The
// file is mapped read-only and every range is checked against it (and against its shape
// and dtype) before a tensor is handed out, so a truncated or hostile file gives an error
// naming the file and tensor instead of an out-of-bounds read.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SAFETENSORS_MAX_DIMS = 8 };

typedef enum SafetensorsDtype {
    SAFETENSORS_F32,
    SAFETENSORS_F16,
    SAFETENSORS_BF16,
    SAFETENSORS_OTHER, // a valid dtype that the converter does not read (F64, I8, ...)
} SafetensorsDtype;

typedef struct SafetensorsFile SafetensorsFile;

typedef struct SafetensorsTensor {
    const char *name;
    const char *dtype_name; // as written in the header ("BF16")
    SafetensorsDtype dtype;
    uint32_t n_dims;
    uint64_t shape[SAFETENSORS_MAX_DIMS]; // outermost first, as PyTorch lists it
    uint64_t n_elements;
    const uint8_t *data; // inside the mapping; not necessarily aligned
    uint64_t n_bytes;
    const SafetensorsFile *file;
} SafetensorsTensor;

struct SafetensorsFile {
    char *path;
    size_t n_tensors;
    SafetensorsTensor *tensors; // in header order
    const uint8_t *map;
    size_t map_size;
};

// Maps and validates PATH. On failure returns NULL with a message naming PATH.
SafetensorsFile *safetensors_open(const char *path, char *err, size_t err_size);
void safetensors_close(SafetensorsFile *file);
const SafetensorsTensor *safetensors_find(const SafetensorsFile *file, const char *name);

// Elements [first, first + count) of T as floats. T must be F32, F16 or BF16 and the
// range inside it (callers check; this is not an input-validation point).
void safetensors_read_f32(const SafetensorsTensor *t, uint64_t first, uint64_t count, float *dst);

// All tensors of a checkpoint folder: DIR/model.safetensors, or the shards that
// DIR/model.safetensors.index.json maps tensor names to (each shard opened once; every
// name in the index must be in the shard it names, and no name may be in two shards).
typedef struct SafetensorsCheckpoint {
    size_t n_files;
    SafetensorsFile **files;
} SafetensorsCheckpoint;

SafetensorsCheckpoint *safetensors_checkpoint_open(const char *dir, char *err, size_t err_size);
void safetensors_checkpoint_close(SafetensorsCheckpoint *ckpt);
// NULL when no shard holds NAME.
const SafetensorsTensor *safetensors_checkpoint_find(const SafetensorsCheckpoint *ckpt,
                                                     const char *name);
