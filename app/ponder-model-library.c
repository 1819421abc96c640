// The sources, the scan and the list of model files.
//
// A scan is a job that owns everything it touches: a copy of the settings, the previous
// entries (so unchanged files keep their objects and are not reopened), and its results.
// The worker thread only fills the job; the list store, the slugs (bound in the UI) and
// the warnings are changed on the main context when the job is applied.
#include "ponder-model-library.h"

#include "ponder-json-guard.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

// A user folder of "/" must not take minutes: after this many directory entries the scan
// stops looking and says so.
enum { SCAN_MAX_DIRENTS = 200000 };

#define OLLAMA_DEFAULT_REGISTRY "registry.ollama.ai"
#define OLLAMA_MODEL_MEDIA_TYPE "application/vnd.ollama.image.model"

struct _PonderModelLibrary {
    GObject parent_instance;

    // owned
    GListStore *models;
    GPtrArray *folders; // char *, NULL-terminated
    char **warnings;
    gboolean enabled[PONDER_MODEL_SOURCE_COUNT];

    guint scans_running;
    guint scan_generation;    // of the last scan started
    guint applied_generation; // of the last scan whose results are shown
};

G_DEFINE_FINAL_TYPE(PonderModelLibrary, ponder_model_library, G_TYPE_OBJECT)

GQuark ponder_model_library_error_quark(void)
{
    return g_quark_from_static_string("ponder-model-library-error-quark");
}

enum { PROP_0, PROP_SCANNING, N_PROPS };
static GParamSpec *properties[N_PROPS];

// ---- Where each source looks -----------------------------------------------------------

static char *own_models_dir(void)
{
    return g_build_filename(g_get_user_data_dir(), "ponder", "models", NULL);
}

// g_strv_builder_take needs GLib 2.80
static void add_root(GStrvBuilder *roots, char *path)
{
    g_strv_builder_add(roots, path);
    g_free(path);
}

static char **source_roots(PonderModelSource source, char *const *folders)
{
    g_autoptr(GStrvBuilder) roots = g_strv_builder_new();
    const char *home = g_get_home_dir();
    switch (source) {
    case PONDER_MODEL_SOURCE_OWN: add_root(roots, own_models_dir()); break;
    case PONDER_MODEL_SOURCE_OLLAMA: {
        const char *env = g_getenv("OLLAMA_MODELS");
        if (env && *env) {
            g_strv_builder_add(roots, env);
        } else {
            add_root(roots, g_build_filename(home, ".ollama", "models", NULL));
            // where the Linux installer's service user keeps them
            g_strv_builder_add(roots, "/usr/share/ollama/.ollama/models");
        }
        break;
    }
    case PONDER_MODEL_SOURCE_LM_STUDIO:
        add_root(roots, g_build_filename(home, ".lmstudio", "models", NULL));
        add_root(roots, g_build_filename(home, ".cache", "lm-studio", "models", NULL));
        break;
    case PONDER_MODEL_SOURCE_HUGGING_FACE: {
        const char *hub = g_getenv("HF_HUB_CACHE");
        const char *hf_home = g_getenv("HF_HOME");
        const char *cache = g_getenv("XDG_CACHE_HOME");
        if (hub && *hub)
            g_strv_builder_add(roots, hub);
        else if (hf_home && *hf_home)
            add_root(roots, g_build_filename(hf_home, "hub", NULL));
        else if (cache && *cache)
            add_root(roots, g_build_filename(cache, "huggingface", "hub", NULL));
        else
            add_root(roots, g_build_filename(home, ".cache", "huggingface", "hub", NULL));
        break;
    }
    case PONDER_MODEL_SOURCE_FOLDER:
        for (char *const *f = folders; f && *f; f++)
            g_strv_builder_add(roots, *f);
        break;
    }
    return g_strv_builder_end(roots);
}

// ---- The scan job ----------------------------------------------------------------------

typedef struct {
    guint generation;
    char **roots[PONDER_MODEL_SOURCE_COUNT]; // NULL for a disabled source
    GHashTable *previous;                    // path -> PonderModelEntry (ref), read-only
    GCancellable *cancellable;

    // results
    GPtrArray *entries;  // PonderModelEntry (ref), in the order found
    GHashTable *seen;    // "dev:ino" of every file taken (the dedupe)
    GPtrArray *warnings; // char *
    char **slugs;        // unique slug of entries[i], computed in the worker
    guint dirents_left;
    gboolean budget_warned;
} ScanJob;

static void scan_job_free(ScanJob *job)
{
    for (int s = 0; s < PONDER_MODEL_SOURCE_COUNT; s++)
        g_strfreev(job->roots[s]);
    g_hash_table_unref(job->previous);
    g_clear_object(&job->cancellable);
    g_ptr_array_unref(job->entries);
    g_hash_table_unref(job->seen);
    g_ptr_array_unref(job->warnings);
    g_strfreev(job->slugs);
    g_free(job);
}

static ScanJob *scan_job_new(PonderModelLibrary *self, GCancellable *cancellable)
{
    ScanJob *job = g_new0(ScanJob, 1);
    job->generation = ++self->scan_generation;
    for (int s = 0; s < PONDER_MODEL_SOURCE_COUNT; s++)
        if (self->enabled[s])
            job->roots[s] = source_roots(s, (char *const *)self->folders->pdata);
    job->previous = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_object_unref);
    guint n = g_list_model_get_n_items(G_LIST_MODEL(self->models));
    for (guint i = 0; i < n; i++) {
        PonderModelEntry *entry = g_list_model_get_item(G_LIST_MODEL(self->models), i);
        g_hash_table_insert(job->previous, (gpointer)ponder_model_entry_get_path(entry), entry);
    }
    job->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    job->entries = g_ptr_array_new_with_free_func(g_object_unref);
    job->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    job->warnings = g_ptr_array_new_with_free_func(g_free);
    job->dirents_left = SCAN_MAX_DIRENTS;
    return job;
}

G_GNUC_PRINTF(2, 3) static void scan_warn(ScanJob *job, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *message = g_strdup_vprintf(format, args);
    va_end(args);
    g_debug("model scan: %s", message);
    g_ptr_array_add(job->warnings, message);
}

static gboolean scan_cancelled(ScanJob *job)
{
    return g_cancellable_is_cancelled(job->cancellable);
}

static gboolean same_or_both_null(const char *a, const char *b)
{
    return g_strcmp0(a, b) == 0;
}

// One candidate file: deduplicated by device and inode, kept from the previous scan when
// unchanged, otherwise read.
static void take_file(ScanJob *job, const char *path, PonderModelSource source, const char *label,
                      const char *digest)
{
    GStatBuf st;
    if (g_stat(path, &st) != 0) {
        int saved = errno;
        scan_warn(job, "%s: %s", path, g_strerror(saved));
        return;
    }
    if (!S_ISREG(st.st_mode))
        return;
    char *file_key =
        g_strdup_printf("%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    if (!g_hash_table_add(job->seen, file_key))
        return;

    // the later parts of a split set belong to the entry of part 1
    g_autofree char *base = g_path_get_basename(path);
    guint part = 0, count = 0;
    if (ponder_model_parse_split_name(base, &part, &count, NULL) && part > 1)
        return;

    gint64 mtime_usec = (gint64)st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
    PonderModelEntry *old = g_hash_table_lookup(job->previous, path);
    if (old && ponder_model_entry_get_source(old) == source &&
        same_or_both_null(ponder_model_entry_get_source_label(old), label) &&
        same_or_both_null(ponder_model_entry_get_digest(old), digest) &&
        ponder_model_entry_matches_stat(old, st.st_dev, st.st_ino, (guint64)st.st_size,
                                        mtime_usec)) {
        g_ptr_array_add(job->entries, g_object_ref(old));
        return;
    }
    g_autoptr(GError) error = NULL;
    PonderModelEntry *entry = ponder_model_entry_new_from_file(path, source, label, digest, &error);
    if (!entry) {
        scan_warn(job, "%s", error->message);
        return;
    }
    g_ptr_array_add(job->entries, entry);
}

static int compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static gboolean has_gguf_suffix(const char *name)
{
    gsize len = strlen(name);
    return len > 5 && g_ascii_strcasecmp(name + len - 5, ".gguf") == 0;
}

// Names in DIR, sorted (so scans are stable); NULL with a warning when it cannot be read,
// NULL silently when it does not exist.
static GPtrArray *list_dir(ScanJob *job, const char *dir)
{
    g_autoptr(GError) error = NULL;
    GDir *d = g_dir_open(dir, 0, &error);
    if (!d) {
        if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT) &&
            !g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR))
            scan_warn(job, "%s", error->message);
        return NULL;
    }
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(d))) {
        if (job->dirents_left == 0) {
            if (!job->budget_warned)
                scan_warn(job, "stopped looking in %s after %u files and folders", dir,
                          SCAN_MAX_DIRENTS);
            job->budget_warned = TRUE;
            break;
        }
        job->dirents_left--;
        g_ptr_array_add(names, g_strdup(name));
    }
    g_dir_close(d);
    g_ptr_array_sort(names, compare_strings);
    return names;
}

// Appends the *.gguf files under DIR (to MAX_DEPTH folders below it) to OUT, in path
// order. Hidden folders and directory symlinks are skipped.
static void collect_gguf(ScanJob *job, const char *dir, int depth, int max_depth, GPtrArray *out)
{
    g_autoptr(GPtrArray) names = list_dir(job, dir);
    for (guint i = 0; names && i < names->len && !scan_cancelled(job); i++) {
        const char *name = names->pdata[i];
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (has_gguf_suffix(name)) {
            g_ptr_array_add(out, g_steal_pointer(&path));
            continue;
        }
        GStatBuf st;
        if (depth < max_depth && name[0] != '.' && g_lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            collect_gguf(job, path, depth + 1, max_depth, out);
    }
}

// ---- Plain folders: own, LM Studio, the user's ----------------------------------------

// LM Studio keeps publisher/repo/file.gguf: the first two folders name the model.
static char *lm_studio_label(const char *root, const char *path)
{
    const char *rel = path + strlen(root);
    while (*rel == G_DIR_SEPARATOR)
        rel++;
    g_auto(GStrv) parts = g_strsplit(rel, G_DIR_SEPARATOR_S, -1);
    if (g_strv_length(parts) < 3)
        return NULL;
    return g_strdup_printf("%s/%s", parts[0], parts[1]);
}

static void scan_folder(ScanJob *job, const char *root, PonderModelSource source)
{
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    collect_gguf(job, root, 0, PONDER_MODEL_LIBRARY_MAX_DEPTH, files);
    for (guint i = 0; i < files->len && !scan_cancelled(job); i++) {
        g_autofree char *label =
            source == PONDER_MODEL_SOURCE_LM_STUDIO ? lm_studio_label(root, files->pdata[i]) : NULL;
        take_file(job, files->pdata[i], source, label, NULL);
    }
}

// ---- Ollama ----------------------------------------------------------------------------

static gboolean is_sha256_hex(const char *hex)
{
    if (strlen(hex) != 64)
        return FALSE;
    for (const char *p = hex; *p; p++)
        if (!g_ascii_isxdigit(*p))
            return FALSE;
    return TRUE;
}

// manifests/HOST/NAMESPACE/MODEL/TAG -> Ollama's own spelling of the name.
static char *ollama_name(const char *host, const char *ns, const char *model, const char *tag)
{
    if (strcmp(host, OLLAMA_DEFAULT_REGISTRY) != 0)
        return g_strdup_printf("%s/%s/%s:%s", host, ns, model, tag);
    if (strcmp(ns, "library") != 0)
        return g_strdup_printf("%s/%s:%s", ns, model, tag);
    return g_strdup_printf("%s:%s", model, tag);
}

// MEMBER of OBJECT when it is a string, else NULL.
static const char *string_member(JsonObject *object, const char *member)
{
    JsonNode *node = json_object_get_member(object, member);
    return node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING
               ? json_node_get_string(node)
               : NULL;
}

static void scan_ollama_manifest(ScanJob *job, const char *root, const char *manifest_path,
                                 const char *name)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr(GError) error = NULL;
    if (!g_file_get_contents(manifest_path, &text, &len, &error)) {
        scan_warn(job, "skipped Ollama manifest: %s", error->message);
        return;
    }
    g_autoptr(JsonNode) doc = ponder_json_from_untrusted(text, (gssize)len, &error);
    if (!doc) {
        scan_warn(job, "skipped Ollama manifest %s: %s", manifest_path, error->message);
        return;
    }
    JsonObject *root_object = JSON_NODE_HOLDS_OBJECT(doc) ? json_node_get_object(doc) : NULL;
    JsonNode *layers_node = root_object ? json_object_get_member(root_object, "layers") : NULL;
    JsonArray *layers =
        layers_node && JSON_NODE_HOLDS_ARRAY(layers_node) ? json_node_get_array(layers_node) : NULL;
    const char *digest = NULL;
    for (guint i = 0; layers && i < json_array_get_length(layers); i++) {
        JsonNode *layer_node = json_array_get_element(layers, i);
        if (!JSON_NODE_HOLDS_OBJECT(layer_node))
            continue;
        JsonObject *layer = json_node_get_object(layer_node);
        if (g_strcmp0(string_member(layer, "mediaType"), OLLAMA_MODEL_MEDIA_TYPE) == 0) {
            digest = string_member(layer, "digest");
            break;
        }
    }
    if (!layers)
        scan_warn(job, "skipped Ollama manifest %s: no \"layers\" array", manifest_path);
    else if (!digest)
        scan_warn(job, "skipped Ollama manifest %s: no layer of type %s", manifest_path,
                  OLLAMA_MODEL_MEDIA_TYPE);
    else if (!g_str_has_prefix(digest, "sha256:") || !is_sha256_hex(digest + 7))
        scan_warn(job, "skipped Ollama manifest %s: digest \"%s\" is not sha256:HEX", manifest_path,
                  digest);
    else {
        g_autofree char *blob_name = g_strdup_printf("sha256-%s", digest + 7);
        g_autofree char *blob = g_build_filename(root, "blobs", blob_name, NULL);
        if (!g_file_test(blob, G_FILE_TEST_EXISTS))
            scan_warn(job, "skipped Ollama model %s: its blob %s is missing", name, blob);
        else
            take_file(job, blob, PONDER_MODEL_SOURCE_OLLAMA, name, digest);
    }
}

static void scan_ollama(ScanJob *job, const char *root)
{
    g_autofree char *manifests = g_build_filename(root, "manifests", NULL);
    // exactly four levels: host / namespace / model / tag
    g_autoptr(GPtrArray) hosts = list_dir(job, manifests);
    for (guint h = 0; hosts && h < hosts->len; h++) {
        g_autofree char *host_dir = g_build_filename(manifests, hosts->pdata[h], NULL);
        g_autoptr(GPtrArray) namespaces = list_dir(job, host_dir);
        for (guint n = 0; namespaces && n < namespaces->len; n++) {
            g_autofree char *ns_dir = g_build_filename(host_dir, namespaces->pdata[n], NULL);
            g_autoptr(GPtrArray) models = list_dir(job, ns_dir);
            for (guint m = 0; models && m < models->len; m++) {
                g_autofree char *model_dir = g_build_filename(ns_dir, models->pdata[m], NULL);
                g_autoptr(GPtrArray) tags = list_dir(job, model_dir);
                for (guint t = 0; tags && t < tags->len && !scan_cancelled(job); t++) {
                    g_autofree char *path = g_build_filename(model_dir, tags->pdata[t], NULL);
                    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR))
                        continue;
                    g_autofree char *name = ollama_name(hosts->pdata[h], namespaces->pdata[n],
                                                        models->pdata[m], tags->pdata[t]);
                    scan_ollama_manifest(job, root, path, name);
                }
            }
        }
    }
}

// ---- Hugging Face cache ----------------------------------------------------------------

// The revision refs/main names when its snapshot is there, else the snapshot folder
// modified last (a download creates a new one).
static char *newest_snapshot(ScanJob *job, const char *repo_dir)
{
    g_autofree char *snapshots = g_build_filename(repo_dir, "snapshots", NULL);
    g_autofree char *ref_path = g_build_filename(repo_dir, "refs", "main", NULL);
    g_autofree char *ref = NULL;
    if (g_file_get_contents(ref_path, &ref, NULL, NULL)) {
        g_strstrip(ref);
        g_autofree char *dir = g_build_filename(snapshots, ref, NULL);
        if (*ref && !strchr(ref, G_DIR_SEPARATOR) && g_file_test(dir, G_FILE_TEST_IS_DIR))
            return g_steal_pointer(&dir);
    }
    g_autoptr(GPtrArray) revisions = list_dir(job, snapshots);
    char *newest = NULL;
    gint64 newest_mtime = G_MININT64;
    for (guint i = 0; revisions && i < revisions->len; i++) {
        char *dir = g_build_filename(snapshots, revisions->pdata[i], NULL);
        GStatBuf st;
        gint64 mtime = G_MININT64;
        if (g_stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            mtime = (gint64)st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
        if (mtime != G_MININT64 && (!newest || mtime > newest_mtime)) {
            g_free(newest);
            newest = dir;
            newest_mtime = mtime;
        } else {
            g_free(dir);
        }
    }
    return newest;
}

static void scan_hugging_face(ScanJob *job, const char *hub)
{
    g_autoptr(GPtrArray) repos = list_dir(job, hub);
    for (guint i = 0; repos && i < repos->len && !scan_cancelled(job); i++) {
        const char *name = repos->pdata[i];
        // models--ORG--NAME ("/" in the repo id became "--")
        if (!g_str_has_prefix(name, "models--"))
            continue;
        const char *org = name + strlen("models--");
        const char *sep = strstr(org, "--");
        g_autofree char *repo_id =
            sep ? g_strdup_printf("%.*s/%s", (int)(sep - org), org, sep + 2) : g_strdup(org);
        g_autofree char *repo_dir = g_build_filename(hub, name, NULL);
        g_autofree char *snapshot = newest_snapshot(job, repo_dir);
        if (!snapshot)
            continue;
        g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
        collect_gguf(job, snapshot, 0, PONDER_MODEL_LIBRARY_MAX_DEPTH, files);
        for (guint f = 0; f < files->len; f++)
            take_file(job, files->pdata[f], PONDER_MODEL_SOURCE_HUGGING_FACE, repo_id, NULL);
    }
}

// ---- Running a scan --------------------------------------------------------------------

static int compare_entries_by_path(gconstpointer a, gconstpointer b)
{
    PonderModelEntry *x = *(PonderModelEntry *const *)a, *y = *(PonderModelEntry *const *)b;
    return strcmp(ponder_model_entry_get_path(x), ponder_model_entry_get_path(y));
}

// Files that give the same slug keep it in path order: the first as it is, the next ones
// with "-2", "-3"… (skipping any slug another file has already).
static void assign_unique_slugs(ScanJob *job)
{
    g_autoptr(GPtrArray) by_path = g_ptr_array_copy(job->entries, NULL, NULL);
    g_ptr_array_set_free_func(by_path, NULL); // the copy borrows (it inherits the unref)
    g_ptr_array_sort(by_path, compare_entries_by_path);
    g_autoptr(GHashTable) taken = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) unique = g_hash_table_new(g_direct_hash, g_direct_equal);
    // every base slug is claimed first, so a suffixed one never takes another file's name
    for (guint i = 0; i < by_path->len; i++)
        g_hash_table_add(taken, g_strdup(ponder_model_entry_get_base_slug(by_path->pdata[i])));
    g_autoptr(GHashTable) base_used = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < by_path->len; i++) {
        PonderModelEntry *entry = by_path->pdata[i];
        const char *base = ponder_model_entry_get_base_slug(entry);
        char *slug;
        if (g_hash_table_add(base_used, (gpointer)base)) {
            slug = g_strdup(base);
        } else {
            guint n = 2;
            slug = g_strdup_printf("%s-%u", base, n);
            while (g_hash_table_contains(taken, slug)) {
                g_free(slug);
                slug = g_strdup_printf("%s-%u", base, ++n);
            }
            g_hash_table_add(taken, g_strdup(slug));
        }
        g_hash_table_insert(unique, entry, slug);
    }
    job->slugs = g_new0(char *, job->entries->len + 1);
    for (guint i = 0; i < job->entries->len; i++)
        job->slugs[i] = g_hash_table_lookup(unique, job->entries->pdata[i]);
}

static gboolean run_scan(ScanJob *job, GError **error)
{
    for (int s = 0; s < PONDER_MODEL_SOURCE_COUNT; s++) {
        for (char **root = job->roots[s]; root && *root; root++) {
            if (g_cancellable_set_error_if_cancelled(job->cancellable, error))
                return FALSE;
            switch ((PonderModelSource)s) {
            case PONDER_MODEL_SOURCE_OWN:
                if (g_mkdir_with_parents(*root, 0755) != 0) {
                    int saved = errno;
                    scan_warn(job, "cannot create %s: %s", *root, g_strerror(saved));
                }
                scan_folder(job, *root, PONDER_MODEL_SOURCE_OWN);
                break;
            case PONDER_MODEL_SOURCE_OLLAMA: scan_ollama(job, *root); break;
            case PONDER_MODEL_SOURCE_HUGGING_FACE: scan_hugging_face(job, *root); break;
            case PONDER_MODEL_SOURCE_FOLDER:
                if (!g_file_test(*root, G_FILE_TEST_IS_DIR))
                    scan_warn(job, "folder %s is not there", *root);
                scan_folder(job, *root, (PonderModelSource)s);
                break;
            case PONDER_MODEL_SOURCE_LM_STUDIO:
                scan_folder(job, *root, (PonderModelSource)s);
                break;
            }
        }
    }
    if (g_cancellable_set_error_if_cancelled(job->cancellable, error))
        return FALSE;
    assign_unique_slugs(job);
    return TRUE;
}

static int compare_entries(gconstpointer a, gconstpointer b, gpointer user_data)
{
    return ponder_model_entry_compare((PonderModelEntry *)a, (PonderModelEntry *)b);
}

// On the main context: the list becomes the job's entries, keeping the objects it shares
// with the list already shown.
static void apply_scan(PonderModelLibrary *self, ScanJob *job)
{
    if (job->generation < self->applied_generation)
        return; // a newer scan's results are already shown
    self->applied_generation = job->generation;

    for (guint i = 0; i < job->entries->len; i++)
        ponder_model_entry_set_slug(job->entries->pdata[i], job->slugs[i]);

    g_autoptr(GHashTable) keep = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (guint i = 0; i < job->entries->len; i++)
        g_hash_table_add(keep, job->entries->pdata[i]);
    g_autoptr(GHashTable) shown = g_hash_table_new(g_direct_hash, g_direct_equal);
    GListModel *list = G_LIST_MODEL(self->models);
    for (guint i = g_list_model_get_n_items(list); i-- > 0;) {
        g_autoptr(PonderModelEntry) entry = g_list_model_get_item(list, i);
        if (g_hash_table_contains(keep, entry))
            g_hash_table_add(shown, entry);
        else
            g_list_store_remove(self->models, i);
    }
    for (guint i = 0; i < job->entries->len; i++)
        if (!g_hash_table_contains(shown, job->entries->pdata[i]))
            g_list_store_insert_sorted(self->models, job->entries->pdata[i], compare_entries, NULL);

    g_strfreev(self->warnings);
    g_ptr_array_add(job->warnings, NULL);
    self->warnings = (char **)g_ptr_array_steal(job->warnings, NULL);
}

gboolean ponder_model_library_scan_sync(PonderModelLibrary *self, GCancellable *cancellable,
                                        GError **error)
{
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(self), FALSE);
    ScanJob *job = scan_job_new(self, cancellable);
    gboolean ok = run_scan(job, error);
    if (ok)
        apply_scan(self, job);
    scan_job_free(job);
    return ok;
}

static void scan_thread(GTask *task, gpointer source_object, gpointer task_data,
                        GCancellable *cancellable)
{
    GError *error = NULL;
    if (run_scan(task_data, &error))
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_error(task, error);
}

static void set_scanning(PonderModelLibrary *self, int delta)
{
    gboolean was = self->scans_running > 0;
    self->scans_running += delta;
    if (was != (self->scans_running > 0))
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_SCANNING]);
}

// Runs on the caller's main context when the worker is done; OUTER is what the caller waits on.
static void scan_thread_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    PonderModelLibrary *self = PONDER_MODEL_LIBRARY(source);
    g_autoptr(GTask) outer = user_data;
    GError *error = NULL;
    gboolean ok = g_task_propagate_boolean(G_TASK(result), &error);
    if (ok)
        apply_scan(self, g_task_get_task_data(G_TASK(result)));
    // before returning: the caller's callback may run inside g_task_return_*
    set_scanning(self, -1);
    if (ok)
        g_task_return_boolean(outer, TRUE);
    else
        g_task_return_error(outer, error);
}

void ponder_model_library_scan_async(PonderModelLibrary *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(PONDER_IS_MODEL_LIBRARY(self));
    GTask *outer = g_task_new(self, cancellable, callback, user_data);
    g_task_set_source_tag(outer, ponder_model_library_scan_async);
    g_autoptr(GTask) inner = g_task_new(self, cancellable, scan_thread_done, outer);
    g_task_set_task_data(inner, scan_job_new(self, cancellable), (GDestroyNotify)scan_job_free);
    // the outer task reports a cancellation itself; the inner one must still apply or drop
    g_task_set_check_cancellable(inner, FALSE);
    set_scanning(self, +1);
    g_task_run_in_thread(inner, scan_thread);
}

gboolean ponder_model_library_scan_finish(PonderModelLibrary *self, GAsyncResult *result,
                                          GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

gboolean ponder_model_library_get_scanning(PonderModelLibrary *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(self), FALSE);
    return self->scans_running > 0;
}

// ---- Sources and folders ---------------------------------------------------------------

GListModel *ponder_model_library_get_models(PonderModelLibrary *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(self), NULL);
    return G_LIST_MODEL(self->models);
}

gboolean ponder_model_library_get_source_enabled(PonderModelLibrary *self, PonderModelSource source)
{
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(self), FALSE);
    g_return_val_if_fail((guint)source < PONDER_MODEL_SOURCE_COUNT, FALSE);
    return self->enabled[source];
}

void ponder_model_library_set_source_enabled(PonderModelLibrary *self, PonderModelSource source,
                                             gboolean enabled)
{
    g_return_if_fail(PONDER_IS_MODEL_LIBRARY(self));
    g_return_if_fail((guint)source < PONDER_MODEL_SOURCE_COUNT);
    self->enabled[source] = enabled != FALSE;
}

char **ponder_model_library_get_source_folders(PonderModelLibrary *self, PonderModelSource source)
{
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(self), NULL);
    g_return_val_if_fail((guint)source < PONDER_MODEL_SOURCE_COUNT, NULL);
    return source_roots(source, (char *const *)self->folders->pdata);
}

const char *const *ponder_model_library_get_folders(PonderModelLibrary *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(self), NULL);
    return (const char *const *)self->folders->pdata;
}

static gint find_folder(PonderModelLibrary *self, const char *path)
{
    for (guint i = 0; i + 1 < self->folders->len; i++)
        if (strcmp(self->folders->pdata[i], path) == 0)
            return (gint)i;
    return -1;
}

void ponder_model_library_set_folders(PonderModelLibrary *self, const char *const *folders)
{
    g_return_if_fail(PONDER_IS_MODEL_LIBRARY(self));
    g_ptr_array_set_size(self->folders, 0);
    for (const char *const *f = folders; f && *f; f++)
        g_ptr_array_add(self->folders, g_strdup(*f));
    g_ptr_array_add(self->folders, NULL);
}

gboolean ponder_model_library_add_folder(PonderModelLibrary *self, const char *path, GError **error)
{
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(self), FALSE);
    g_return_val_if_fail(path != NULL, FALSE);
    g_autofree char *canonical = g_canonicalize_filename(path, NULL);
    if (!g_file_test(canonical, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, PONDER_MODEL_LIBRARY_ERROR, PONDER_MODEL_LIBRARY_ERROR_FOLDER,
                    "%s is not a folder", canonical);
        return FALSE;
    }
    if (find_folder(self, canonical) >= 0)
        return TRUE;
    // keep the NULL terminator last
    g_ptr_array_insert(self->folders, (gint)self->folders->len - 1, g_steal_pointer(&canonical));
    return TRUE;
}

gboolean ponder_model_library_remove_folder(PonderModelLibrary *self, const char *path)
{
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(self), FALSE);
    g_return_val_if_fail(path != NULL, FALSE);
    gint index = find_folder(self, path);
    if (index < 0) {
        g_autofree char *canonical = g_canonicalize_filename(path, NULL);
        index = find_folder(self, canonical);
    }
    if (index < 0)
        return FALSE;
    g_ptr_array_remove_index(self->folders, (guint)index);
    return TRUE;
}

const char *const *ponder_model_library_get_warnings(PonderModelLibrary *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(self), NULL);
    return (const char *const *)self->warnings;
}

// ---- Lookup ----------------------------------------------------------------------------

PonderModelEntry *ponder_model_library_find_by_slug(PonderModelLibrary *self, const char *slug)
{
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(self), NULL);
    g_return_val_if_fail(slug != NULL, NULL);
    GListModel *list = G_LIST_MODEL(self->models);
    guint n = g_list_model_get_n_items(list);
    for (guint i = 0; i < n; i++) {
        g_autoptr(PonderModelEntry) entry = g_list_model_get_item(list, i);
        if (strcmp(ponder_model_entry_get_slug(entry), slug) == 0)
            return entry; // the store still holds a reference
    }
    return NULL;
}

PonderModelEntry *ponder_model_library_find_by_path(PonderModelLibrary *self, const char *path)
{
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(self), NULL);
    g_return_val_if_fail(path != NULL, NULL);
    GStatBuf st;
    gboolean exists = g_stat(path, &st) == 0;
    GListModel *list = G_LIST_MODEL(self->models);
    guint n = g_list_model_get_n_items(list);
    for (guint i = 0; i < n; i++) {
        g_autoptr(PonderModelEntry) entry = g_list_model_get_item(list, i);
        if (exists ? ponder_model_entry_is_same_file(entry, st.st_dev, st.st_ino)
                   : strcmp(ponder_model_entry_get_path(entry), path) == 0)
            return entry;
    }
    return NULL;
}

PonderModelEntry *ponder_model_library_lookup(PonderModelLibrary *self, const char *name,
                                              GError **error)
{
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(self), NULL);
    g_return_val_if_fail(name != NULL, NULL);
    g_autofree char *lower = g_ascii_strdown(name, -1);
    PonderModelEntry *entry = ponder_model_library_find_by_slug(self, lower);
    if (entry)
        return entry;
    if (strchr(name, G_DIR_SEPARATOR)) {
        entry = ponder_model_library_find_by_path(self, name);
        if (!entry)
            g_set_error(error, PONDER_MODEL_LIBRARY_ERROR, PONDER_MODEL_LIBRARY_ERROR_NOT_FOUND,
                        "the model file %s is not in the library", name);
        return entry;
    }

    g_autoptr(GPtrArray) matches = g_ptr_array_new();
    GListModel *list = G_LIST_MODEL(self->models);
    guint n = g_list_model_get_n_items(list);
    for (guint i = 0; i < n; i++) {
        g_autoptr(PonderModelEntry) candidate = g_list_model_get_item(list, i);
        if (*lower && g_str_has_prefix(ponder_model_entry_get_slug(candidate), lower))
            g_ptr_array_add(matches, candidate);
    }
    if (matches->len == 1)
        return matches->pdata[0];
    if (matches->len == 0) {
        g_set_error(error, PONDER_MODEL_LIBRARY_ERROR, PONDER_MODEL_LIBRARY_ERROR_NOT_FOUND,
                    "no model is named '%s' (or starts so)", name);
        return NULL;
    }
    GString *list_text = g_string_new(NULL);
    for (guint i = 0; i < matches->len; i++)
        g_string_append_printf(list_text, "%s%s", i ? ", " : "",
                               ponder_model_entry_get_slug(matches->pdata[i]));
    g_set_error(error, PONDER_MODEL_LIBRARY_ERROR, PONDER_MODEL_LIBRARY_ERROR_AMBIGUOUS,
                "'%s' could be any of %u models: %s", name, matches->len, list_text->str);
    g_string_free(list_text, TRUE);
    return NULL;
}

// ---- GObject ---------------------------------------------------------------------------

static void ponder_model_library_finalize(GObject *object)
{
    PonderModelLibrary *self = PONDER_MODEL_LIBRARY(object);
    g_clear_object(&self->models);
    g_ptr_array_unref(self->folders);
    g_strfreev(self->warnings);
    G_OBJECT_CLASS(ponder_model_library_parent_class)->finalize(object);
}

static void ponder_model_library_get_property(GObject *object, guint prop_id, GValue *value,
                                              GParamSpec *pspec)
{
    PonderModelLibrary *self = PONDER_MODEL_LIBRARY(object);
    switch (prop_id) {
    case PROP_SCANNING: g_value_set_boolean(value, self->scans_running > 0); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_model_library_class_init(PonderModelLibraryClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    object_class->finalize = ponder_model_library_finalize;
    object_class->get_property = ponder_model_library_get_property;
    properties[PROP_SCANNING] =
        g_param_spec_boolean("scanning", NULL, NULL, FALSE,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
    g_object_class_install_properties(object_class, N_PROPS, properties);
}

static void ponder_model_library_init(PonderModelLibrary *self)
{
    self->models = g_list_store_new(PONDER_TYPE_MODEL_ENTRY);
    self->folders = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(self->folders, NULL);
    self->warnings = g_new0(char *, 1);
    for (int s = 0; s < PONDER_MODEL_SOURCE_COUNT; s++)
        self->enabled[s] = TRUE;
}

PonderModelLibrary *ponder_model_library_new(void)
{
    return g_object_new(PONDER_TYPE_MODEL_LIBRARY, NULL);
}
