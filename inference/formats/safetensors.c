// Safetensors reading: header validation, shard index, element conversion.
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "quant/quant.h"
#include "runtime/error-text.h"

// The format's own bound on the header (the reference implementation refuses more).
#define MAX_HEADER_BYTES (100u * 1024u * 1024u)

typedef struct DtypeInfo {
    const char *name;
    uint32_t size;
    SafetensorsDtype dtype;
} DtypeInfo;

static const DtypeInfo DTYPES[] = {
    {"F32", 4, SAFETENSORS_F32},       {"F16", 2, SAFETENSORS_F16},
    {"BF16", 2, SAFETENSORS_BF16},     {"F64", 8, SAFETENSORS_OTHER},
    {"I64", 8, SAFETENSORS_OTHER},     {"U64", 8, SAFETENSORS_OTHER},
    {"I32", 4, SAFETENSORS_OTHER},     {"U32", 4, SAFETENSORS_OTHER},
    {"I16", 2, SAFETENSORS_OTHER},     {"U16", 2, SAFETENSORS_OTHER},
    {"I8", 1, SAFETENSORS_OTHER},      {"U8", 1, SAFETENSORS_OTHER},
    {"BOOL", 1, SAFETENSORS_OTHER},    {"F8_E4M3", 1, SAFETENSORS_OTHER},
    {"F8_E5M2", 1, SAFETENSORS_OTHER},
};

static const DtypeInfo *find_dtype(const char *name)
{
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (strcmp(DTYPES[i].name, name) == 0)
            return &DTYPES[i];
    return NULL;
}

static bool mul_overflows(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a != 0 && b > UINT64_MAX / a)
        return true;
    *out = a * b;
    return false;
}

static bool json_u64(const JsonValue *v, uint64_t *out)
{
    if (!v || v->type != JSON_NUMBER || !v->number_is_integer || v->integer < 0)
        return false;
    *out = (uint64_t)v->integer;
    return true;
}

// One header entry -> T (name and dtype strings still borrowed from the JSON tree).
static bool parse_entry(const char *path, const char *name, const JsonValue *entry,
                        uint64_t data_size, SafetensorsTensor *t, char *err, size_t err_size)
{
    if (entry->type != JSON_OBJECT)
        return ponder_failf(err, err_size, "%s: header entry '%s' is not an object", path, name);
    const JsonValue *dtype = json_get(entry, "dtype");
    const JsonValue *shape = json_get(entry, "shape");
    const JsonValue *offsets = json_get(entry, "data_offsets");
    if (!dtype || dtype->type != JSON_STRING)
        return ponder_failf(err, err_size, "%s: tensor '%s' has no string 'dtype'", path, name);
    const DtypeInfo *info = find_dtype(dtype->string);
    if (!info)
        return ponder_failf(err, err_size, "%s: tensor '%s' has unknown dtype '%s'", path, name,
                            dtype->string);
    if (!shape || shape->type != JSON_ARRAY)
        return ponder_failf(err, err_size, "%s: tensor '%s' has no array 'shape'", path, name);
    if (shape->count > SAFETENSORS_MAX_DIMS)
        return ponder_failf(err, err_size, "%s: tensor '%s' has %zu dimensions (at most %d)", path,
                            name, shape->count, SAFETENSORS_MAX_DIMS);
    t->name = name;
    t->dtype_name = info->name;
    t->dtype = info->dtype;
    t->n_dims = (uint32_t)shape->count;
    t->n_elements = 1;
    for (size_t d = 0; d < shape->count; d++) {
        if (!json_u64(&shape->items[d], &t->shape[d]))
            return ponder_failf(err, err_size,
                                "%s: tensor '%s': shape[%zu] is not a non-negative integer", path,
                                name, d);
        if (mul_overflows(t->n_elements, t->shape[d], &t->n_elements))
            return ponder_failf(err, err_size, "%s: tensor '%s': element count overflows", path,
                                name);
    }
    uint64_t begin, end;
    if (!offsets || offsets->type != JSON_ARRAY || offsets->count != 2 ||
        !json_u64(&offsets->items[0], &begin) || !json_u64(&offsets->items[1], &end))
        return ponder_failf(err, err_size,
                            "%s: tensor '%s' needs 'data_offsets' [begin, end] of integers", path,
                            name);
    if (mul_overflows(t->n_elements, info->size, &t->n_bytes))
        return ponder_failf(err, err_size, "%s: tensor '%s': byte size overflows", path, name);
    if (begin > end || end > data_size)
        return ponder_failf(
            err, err_size,
            "%s: tensor '%s': data_offsets [%llu, %llu] outside the %llu data bytes "
            "(truncated file?)",
            path, name, (unsigned long long)begin, (unsigned long long)end,
            (unsigned long long)data_size);
    if (end - begin != t->n_bytes)
        return ponder_failf(err, err_size,
                            "%s: tensor '%s': data_offsets span %llu bytes but %s shape needs %llu",
                            path, name, (unsigned long long)(end - begin), info->name,
                            (unsigned long long)t->n_bytes);
    t->data = (const uint8_t *)(uintptr_t)begin; // made absolute once the map is known
    return true;
}

static int compare_by_offset(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)(*(const SafetensorsTensor *const *)a)->data;
    uintptr_t y = (uintptr_t)(*(const SafetensorsTensor *const *)b)->data;
    return x < y ? -1 : x > y;
}

// Two tensors sharing bytes means a corrupt header (writers never alias).
static bool check_no_overlap(const char *path, SafetensorsFile *file, char *err, size_t err_size)
{
    if (file->n_tensors < 2)
        return true;
    const SafetensorsTensor **order = malloc(file->n_tensors * sizeof *order);
    if (!order)
        return ponder_failf(err, err_size, "%s: out of memory", path);
    for (size_t i = 0; i < file->n_tensors; i++)
        order[i] = &file->tensors[i];
    qsort(order, file->n_tensors, sizeof *order, compare_by_offset);
    bool ok = true;
    for (size_t i = 1; i < file->n_tensors && ok; i++) {
        uintptr_t prev_end = (uintptr_t)order[i - 1]->data + order[i - 1]->n_bytes;
        if ((uintptr_t)order[i]->data < prev_end)
            ok = ponder_failf(err, err_size, "%s: tensors '%s' and '%s' overlap", path,
                              order[i - 1]->name, order[i]->name);
    }
    free(order);
    return ok;
}

// Copies the names out of the JSON tree so that the tree can be freed.
static bool own_names(SafetensorsFile *file, char *err, size_t err_size)
{
    for (size_t i = 0; i < file->n_tensors; i++) {
        char *copy = strdup(file->tensors[i].name);
        if (!copy) {
            for (size_t j = 0; j < i; j++)
                free((char *)file->tensors[j].name);
            return ponder_failf(err, err_size, "%s: out of memory", file->path);
        }
        file->tensors[i].name = copy;
    }
    return true;
}

static bool parse_header(SafetensorsFile *file, char *err, size_t err_size)
{
    const char *path = file->path;
    if (file->map_size < 8)
        return ponder_failf(err, err_size, "%s: %zu bytes is too short for a safetensors header",
                            path, file->map_size);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = header_len << 8 | file->map[i];
    if (header_len > file->map_size - 8)
        return ponder_failf(err, err_size,
                            "%s: header length %llu runs past the end of the %zu-byte file "
                            "(truncated or not safetensors)",
                            path, (unsigned long long)header_len, file->map_size);
    if (header_len > MAX_HEADER_BYTES)
        return ponder_failf(err, err_size, "%s: header length %llu exceeds %u bytes", path,
                            (unsigned long long)header_len, MAX_HEADER_BYTES);
    uint64_t data_start = 8 + header_len;
    uint64_t data_size = file->map_size - data_start;

    char reason[256];
    JsonValue *root =
        json_parse((const char *)file->map + 8, (size_t)header_len, reason, sizeof reason);
    if (!root)
        return ponder_failf(err, err_size, "%s: bad JSON header: %s", path, reason);
    if (root->type != JSON_OBJECT) {
        json_free(root);
        return ponder_failf(err, err_size, "%s: header is not a JSON object", path);
    }
    file->tensors = calloc(root->count ? root->count : 1, sizeof *file->tensors);
    if (!file->tensors) {
        json_free(root);
        return ponder_failf(err, err_size, "%s: out of memory", path);
    }
    bool ok = true;
    for (size_t i = 0; i < root->count && ok; i++) {
        const char *key = root->keys[i];
        if (strcmp(key, "__metadata__") == 0)
            continue; // free-form strings (e.g. "format": "pt")
        if (strlen(key) != root->key_lens[i]) {
            ok = ponder_failf(err, err_size, "%s: a tensor name contains a NUL byte", path);
            break;
        }
        for (size_t j = 0; j < file->n_tensors && ok; j++)
            if (strcmp(file->tensors[j].name, key) == 0)
                ok = ponder_failf(err, err_size, "%s: tensor '%s' is listed twice", path, key);
        SafetensorsTensor *t = &file->tensors[file->n_tensors];
        if (ok && parse_entry(path, key, &root->items[i], data_size, t, err, err_size)) {
            t->file = file;
            file->n_tensors++;
        } else {
            ok = false;
        }
    }
    if (ok)
        ok = check_no_overlap(path, file, err, err_size);
    if (ok)
        ok = own_names(file, err, err_size);
    if (!ok)
        file->n_tensors = 0; // names still borrowed: nothing to free per tensor
    json_free(root);
    if (!ok)
        return false;
    for (size_t i = 0; i < file->n_tensors; i++)
        file->tensors[i].data = file->map + data_start + (uintptr_t)file->tensors[i].data;
    return true;
}

SafetensorsFile *safetensors_open(const char *path, char *err, size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ponder_failf(err, err_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ponder_failf(err, err_size, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    SafetensorsFile *file = calloc(1, sizeof *file);
    if (!file || !(file->path = strdup(path))) {
        free(file);
        close(fd);
        ponder_failf(err, err_size, "%s: out of memory", path);
        return NULL;
    }
    file->map_size = (size_t)st.st_size;
    if (file->map_size > 0) {
        void *map = mmap(NULL, file->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            ponder_failf(err, err_size, "%s: mmap: %s", path, strerror(errno));
            close(fd);
            file->map_size = 0;
            safetensors_close(file);
            return NULL;
        }
        file->map = map;
    }
    close(fd);
    if (!parse_header(file, err, err_size)) {
        safetensors_close(file);
        return NULL;
    }
    return file;
}

void safetensors_close(SafetensorsFile *file)
{
    if (!file)
        return;
    for (size_t i = 0; i < file->n_tensors; i++)
        free((char *)file->tensors[i].name);
    free(file->tensors);
    if (file->map)
        munmap((void *)file->map, file->map_size);
    free(file->path);
    free(file);
}

const SafetensorsTensor *safetensors_find(const SafetensorsFile *file, const char *name)
{
    for (size_t i = 0; i < file->n_tensors; i++)
        if (strcmp(file->tensors[i].name, name) == 0)
            return &file->tensors[i];
    return NULL;
}

void safetensors_read_f32(const SafetensorsTensor *t, uint64_t first, uint64_t count, float *dst)
{
    // memcpy per element: the data section need not be aligned for the element type.
    switch (t->dtype) {
    case SAFETENSORS_F32: memcpy(dst, t->data + first * 4, count * 4); break;
    case SAFETENSORS_F16:
    case SAFETENSORS_BF16: {
        const uint8_t *src = t->data + first * 2;
        for (uint64_t i = 0; i < count; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
            dst[i] = t->dtype == SAFETENSORS_F16 ? ponder_fp16_to_fp32(h) : ponder_bf16_to_fp32(h);
        }
        break;
    }
    case SAFETENSORS_OTHER: memset(dst, 0, count * sizeof *dst); break;
    }
}

// ---- checkpoints ------------------------------------------------------------------

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", dir, name);
    return out;
}

static bool add_file(SafetensorsCheckpoint *ckpt, const char *dir, const char *name, char *err,
                     size_t err_size)
{
    char *path = join_path(dir, name);
    if (!path)
        return ponder_failf(err, err_size, "%s: out of memory", dir);
    SafetensorsFile **grown = realloc(ckpt->files, (ckpt->n_files + 1) * sizeof *grown);
    if (!grown) {
        free(path);
        return ponder_failf(err, err_size, "%s: out of memory", dir);
    }
    ckpt->files = grown;
    SafetensorsFile *file = safetensors_open(path, err, err_size);
    free(path);
    if (!file)
        return false;
    ckpt->files[ckpt->n_files++] = file;
    return true;
}

static SafetensorsFile *file_named(const SafetensorsCheckpoint *ckpt, const char *dir,
                                   const char *name)
{
    size_t dir_len = strlen(dir);
    for (size_t i = 0; i < ckpt->n_files; i++) {
        const char *p = ckpt->files[i]->path;
        if (strncmp(p, dir, dir_len) == 0 && p[dir_len] == '/' &&
            strcmp(p + dir_len + 1, name) == 0)
            return ckpt->files[i];
    }
    return NULL;
}

static bool open_shards(SafetensorsCheckpoint *ckpt, const char *dir, const char *index_path,
                        char *err, size_t err_size)
{
    JsonValue *index = json_parse_file(index_path, err, err_size); // messages name the file
    if (!index)
        return false;
    const JsonValue *map = json_get(index, "weight_map");
    bool ok = true;
    if (!map || map->type != JSON_OBJECT || map->count == 0)
        ok = ponder_failf(err, err_size, "%s: no object 'weight_map'", index_path);
    for (size_t i = 0; ok && i < map->count; i++) {
        const JsonValue *shard = &map->items[i];
        if (shard->type != JSON_STRING || shard->string_len == 0 ||
            strlen(shard->string) != shard->string_len || strchr(shard->string, '/') ||
            shard->string[0] == '.') {
            ok = ponder_failf(err, err_size,
                              "%s: weight_map['%s'] must be a file name in the same folder",
                              index_path, map->keys[i]);
            break;
        }
        SafetensorsFile *file = file_named(ckpt, dir, shard->string);
        if (!file) {
            ok = add_file(ckpt, dir, shard->string, err, err_size);
            if (!ok)
                break;
            file = ckpt->files[ckpt->n_files - 1];
        }
        if (!safetensors_find(file, map->keys[i]))
            ok = ponder_failf(err, err_size, "%s: tensor '%s' is mapped to %s, which lacks it",
                              index_path, map->keys[i], file->path);
    }
    json_free(index);
    return ok;
}

static bool check_unique_names(const SafetensorsCheckpoint *ckpt, char *err, size_t err_size)
{
    for (size_t f = 1; f < ckpt->n_files; f++)
        for (size_t i = 0; i < ckpt->files[f]->n_tensors; i++)
            for (size_t g = 0; g < f; g++) {
                const char *name = ckpt->files[f]->tensors[i].name;
                if (safetensors_find(ckpt->files[g], name))
                    return ponder_failf(err, err_size, "tensor '%s' is in both %s and %s", name,
                                        ckpt->files[g]->path, ckpt->files[f]->path);
            }
    return true;
}

SafetensorsCheckpoint *safetensors_checkpoint_open(const char *dir, char *err, size_t err_size)
{
    SafetensorsCheckpoint *ckpt = calloc(1, sizeof *ckpt);
    char *index_path = join_path(dir, "model.safetensors.index.json");
    if (!ckpt || !index_path) {
        free(ckpt);
        free(index_path);
        ponder_failf(err, err_size, "%s: out of memory", dir);
        return NULL;
    }
    bool ok;
    if (access(index_path, F_OK) == 0) {
        ok = open_shards(ckpt, dir, index_path, err, err_size) &&
             check_unique_names(ckpt, err, err_size);
    } else {
        char *single = join_path(dir, "model.safetensors");
        if (single && access(single, F_OK) != 0)
            ok = ponder_failf(err, err_size,
                              "%s: no model.safetensors and no model.safetensors.index.json", dir);
        else
            ok = add_file(ckpt, dir, "model.safetensors", err, err_size);
        free(single);
    }
    free(index_path);
    if (!ok) {
        safetensors_checkpoint_close(ckpt);
        return NULL;
    }
    return ckpt;
}

void safetensors_checkpoint_close(SafetensorsCheckpoint *ckpt)
{
    if (!ckpt)
        return;
    for (size_t i = 0; i < ckpt->n_files; i++)
        safetensors_close(ckpt->files[i]);
    free(ckpt->files);
    free(ckpt);
}

const SafetensorsTensor *safetensors_checkpoint_find(const SafetensorsCheckpoint *ckpt,
                                                     const char *name)
{
    for (size_t i = 0; i < ckpt->n_files; i++) {
        const SafetensorsTensor *t = safetensors_find(ckpt->files[i], name);
        if (t)
            return t;
    }
    return NULL;
}
