// A small JSON reader (RFC 8259) for tokenizer.json, config.json, safetensors headers
// and test fixtures. Parses a whole document into a tree; strings are unescaped to
// UTF-8 (\u escapes with surrogate pairs; invalid ones are a parse error). Depth and
// size are bounded so hostile input fails with a message instead of exhausting memory.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum JsonType {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} JsonType;

typedef struct JsonValue JsonValue;
struct JsonValue {
    JsonType type;
    bool boolean;
    double number;
    bool number_is_integer; // written without fraction/exponent and fits int64
    int64_t integer;        // exact value when number_is_integer
    char *string;           // NUL-terminated UTF-8 (may contain embedded NUL: see string_len)
    size_t string_len;
    // ARRAY: items[0..count); OBJECT: keys[i] -> items[i], in document order.
    size_t count;
    JsonValue *items;
    char **keys;
    size_t *key_lens;
};

// Parses TEXT[0..len). Returns NULL with a message (with line:column) in ERR.
JsonValue *json_parse(const char *text, size_t len, char *err, size_t err_size);
// Reads and parses a file.
JsonValue *json_parse_file(const char *path, char *err, size_t err_size);
void json_free(JsonValue *value);

// Object member lookup (first match); NULL if V is not an object or the key is absent.
const JsonValue *json_get(const JsonValue *v, const char *key);
// Array element; NULL if out of range or V is not an array.
const JsonValue *json_at(const JsonValue *v, size_t index);
// Convenience: typed member access with a fallback.
const char *json_get_string(const JsonValue *v, const char *key, const char *fallback);
double json_get_number(const JsonValue *v, const char *key, double fallback);
int64_t json_get_int(const JsonValue *v, const char *key, int64_t fallback);
bool json_get_bool(const JsonValue *v, const char *key, bool fallback);
