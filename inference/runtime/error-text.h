// The error messages of the parts that report into a caller's char buffer (file formats,
// tokenizer, chat format, model tools); the runtime's PonderError has ponder_set_error.
#pragma once

#include <stdbool.h>
#include <stddef.h>

// Formats the message into ERR (ERR_SIZE bytes, truncated; nothing when ERR is NULL) and
// returns false, so that a failing check reads `return ponder_failf(err, size, "...", ...);`.
bool ponder_failf(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
