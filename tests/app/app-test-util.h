// Helpers the app tests share: temporary folders and the tiny synthetic model.
#pragma once

#include <glib.h>

// Removes PATH and everything below it (a test's temporary folder).
void app_test_remove_tree(const char *path);
// A loopback TCP port nothing listens on now (bound and released; another process could
// still take it before the caller does, which a test tolerates).
guint16 app_test_free_port(void);
// $PONDER_SHARED/RELATIVE (../shared beside the repository, or the subset of tests/data
// unpacked in the build), newly allocated.
char *app_test_shared_path(const char *relative);
// Writes a tiny synthetic Qwen2 model (Q8_0, the R1 tokenizer's markers) into DIR and
// returns its path; NULL when ../shared's R1 tokenizer is missing (the test then skips).
char *app_test_make_tiny_model(const char *dir, guint64 seed);
// Switches LC_NUMERIC to a locale whose decimal separator is a comma (de_DE.UTF-8, else
// fr_FR or ru_RU), as the app's setlocale (LC_ALL, "") does for such a user, and returns
// the locale it replaced, for app_test_restore_numeric_locale(); NULL when none is
// installed (the test then skips: tools/install-deps generates de_DE.UTF-8).
char *app_test_use_comma_locale(void);
void app_test_restore_numeric_locale(char *previous);
