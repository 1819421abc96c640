// GPU backends live in modules loaded at run time (dlopen), so one build runs on
// machines without the NVIDIA driver or a Vulkan loader: a missing module or driver is an
// error message and the caller falls back to the CPU.
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend-module.h"

#ifndef PONDER_MODULE_DIR
#define PONDER_MODULE_DIR "/usr/local/lib/ponder"
#endif

static void *try_open(const char *dir, const char *subdir, const char *file, char *tried,
                      size_t tried_size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s/%s", dir, subdir, file);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        size_t used = strlen(tried);
        snprintf(tried + used, tried_size - used, "%s%s", used ? "; " : "", dlerror());
    }
    return handle;
}

const Backend *backend_module_load(PonderBackend kind, PonderError *err)
{
    const char *name = ponder_backend_name(kind);
    char file[64];
    snprintf(file, sizeof file, "libponder-%s.so", name);

    // Where to look: $PONDER_MODULE_DIR, beside the executable as laid out in the build
    // tree (inference/<name>/) and installed (../lib/ponder), then the configured libdir.
    char exe_dir[PATH_MAX] = "";
    ssize_t n = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
    if (n > 0) {
        exe_dir[n] = '\0';
        char *slash = strrchr(exe_dir, '/');
        if (slash)
            *slash = '\0';
    }
    char tried[1024] = "";
    char subdir[80];
    snprintf(subdir, sizeof subdir, "/%s", name);
    void *handle = NULL;
    const char *env = getenv("PONDER_MODULE_DIR");
    if (env && *env)
        handle = try_open(env, "", file, tried, sizeof tried);
    if (!handle && *exe_dir)
        handle = try_open(exe_dir, subdir, file, tried, sizeof tried);
    if (!handle && *exe_dir) {
        char build_inference[PATH_MAX];
        // tests run from build/tests/inference: the module is in build/inference/<name>
        snprintf(build_inference, sizeof build_inference, "%s/../../inference", exe_dir);
        handle = try_open(build_inference, subdir, file, tried, sizeof tried);
    }
    if (!handle)
        handle = try_open(PONDER_MODULE_DIR, "", file, tried, sizeof tried);
    if (!handle) {
        ponder_set_error(err, PONDER_ERR_UNSUPPORTED, "the %s backend could not be loaded (%s)",
                         name, tried);
        return NULL;
    }
    BackendEntry entry = (BackendEntry)dlsym(handle, BACKEND_ENTRY_SYMBOL);
    const Backend *backend = entry ? entry(BACKEND_ABI_VERSION) : NULL;
    if (!backend) {
        ponder_set_error(err, PONDER_ERR_UNSUPPORTED,
                         "the %s backend module does not match this build (ABI %d)", name,
                         BACKEND_ABI_VERSION);
        dlclose(handle);
        return NULL;
    }
    // Modules stay loaded for the life of the process: contexts may come and go.
    return backend;
}
