// The compute pipelines: one per shader variant (vk-shaders.c), all sharing one layout
// (VK_MAX_BINDINGS storage buffers, VK_PUSH_BYTES of push constants), so the recorder
// binds every op the same way.
//
// Compiled pipelines are kept in $XDG_CACHE_HOME/ponder/vulkan-pipelines.bin (or
// ~/.cache/…): the driver checks the file's header itself and ignores data from another
// device or driver version.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vk-backend.h"

enum { MAX_CACHE_BYTES = 64 << 20 };

VkPipe vk_matvec_pipe(PonderType type)
{
    switch (type) {
    case PONDER_TYPE_F32: return VK_PIPE_MATVEC_F32;
    case PONDER_TYPE_F16: return VK_PIPE_MATVEC_F16;
    case PONDER_TYPE_BF16: return VK_PIPE_MATVEC_BF16;
    case PONDER_TYPE_Q8_0: return VK_PIPE_MATVEC_Q8_0;
    case PONDER_TYPE_Q4_0: return VK_PIPE_MATVEC_Q4_0;
    case PONDER_TYPE_Q4_1: return VK_PIPE_MATVEC_Q4_1;
    case PONDER_TYPE_Q5_0: return VK_PIPE_MATVEC_Q5_0;
    case PONDER_TYPE_Q5_1: return VK_PIPE_MATVEC_Q5_1;
    case PONDER_TYPE_Q2_K: return VK_PIPE_MATVEC_Q2_K;
    case PONDER_TYPE_Q3_K: return VK_PIPE_MATVEC_Q3_K;
    case PONDER_TYPE_Q4_K: return VK_PIPE_MATVEC_Q4_K;
    case PONDER_TYPE_Q5_K: return VK_PIPE_MATVEC_Q5_K;
    case PONDER_TYPE_Q6_K: return VK_PIPE_MATVEC_Q6_K;
    default: return VK_PIPE_COUNT;
    }
}

// The cache file's path in BUF; false when caching is off or there is no home.
static bool cache_path(char *buf, size_t size, bool make_dirs)
{
    const char *off = getenv("PONDER_VULKAN_PIPELINE_CACHE");
    if (off && strcmp(off, "0") == 0)
        return false;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[1024];
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache", home);
    else
        return false;
    if (make_dirs) {
        mkdir(dir, 0700);
        size_t n = strlen(dir);
        snprintf(dir + n, sizeof dir - n, "/ponder");
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return false;
        snprintf(buf, size, "%s/vulkan-pipelines.bin", dir);
    } else {
        snprintf(buf, size, "%s/ponder/vulkan-pipelines.bin", dir);
    }
    return true;
}

// The cache file's bytes (malloc'd), or NULL.
static void *read_cache(size_t *len)
{
    char path[1200];
    *len = 0;
    if (!cache_path(path, sizeof path, false))
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    void *data = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && n <= MAX_CACHE_BYTES && fseek(f, 0, SEEK_SET) == 0 &&
            (data = malloc((size_t)n))) {
            if (fread(data, 1, (size_t)n, f) == (size_t)n) {
                *len = (size_t)n;
            } else {
                free(data);
                data = NULL;
            }
        }
    }
    fclose(f);
    return data;
}

// Best effort: a cache that cannot be written only costs compile time next run.
static void write_cache(VkState *s, size_t loaded_len)
{
    char path[1200], tmp[1300];
    size_t len = 0;
    if (!s->pipe_cache || !cache_path(path, sizeof path, true) ||
        s->vk.vkGetPipelineCacheData(s->device, s->pipe_cache, &len, NULL) != VK_SUCCESS ||
        len == 0 || len == loaded_len) // nothing new was compiled
        return;
    void *data = malloc(len);
    if (!data)
        return;
    if (s->vk.vkGetPipelineCacheData(s->device, s->pipe_cache, &len, data) == VK_SUCCESS) {
        snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
        FILE *f = fopen(tmp, "wb");
        bool ok = f && fwrite(data, 1, len, f) == len;
        if (f && fclose(f) != 0)
            ok = false;
        if (ok)
            rename(tmp, path);
        else
            remove(tmp);
    }
    free(data);
}

static PonderStatus create_layout(VkState *s, PonderError *err)
{
    VkDescriptorSetLayoutBinding bindings[VK_MAX_BINDINGS];
    for (uint32_t i = 0; i < VK_MAX_BINDINGS; i++)
        bindings[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo set = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = VK_MAX_BINDINGS,
        .pBindings = bindings,
    };
    VK_TRY(s->vk.vkCreateDescriptorSetLayout(s->device, &set, NULL, &s->set_layout));
    VkPushConstantRange push = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = VK_PUSH_BYTES};
    VkPipelineLayoutCreateInfo layout = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &s->set_layout,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &push,
    };
    VK_TRY(s->vk.vkCreatePipelineLayout(s->device, &layout, NULL, &s->pipe_layout));
    return PONDER_OK;
}

static PonderStatus create_pipeline(VkState *s, VkPipe p, PonderError *err)
{
    const VkShaderCode *code = &vk_shader_code[p];
    VkShaderModuleCreateInfo module_info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = code->bytes,
        .pCode = code->words,
    };
    VkShaderModule module;
    VK_TRY(s->vk.vkCreateShaderModule(s->device, &module_info, NULL, &module));
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage =
            {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = module,
                .pName = "main",
            },
        .layout = s->pipe_layout,
    };
    VkResult r =
        s->vk.vkCreateComputePipelines(s->device, s->pipe_cache, 1, &info, NULL, &s->pipes[p]);
    s->vk.vkDestroyShaderModule(s->device, module, NULL);
    if (r != VK_SUCCESS)
        return vk_error(err, r, code->name, __FILE__, __LINE__);
    return PONDER_OK;
}

PonderStatus vk_pipelines_create(VkState *s, PonderError *err)
{
    VK_RETURN_IF_FAILED(create_layout(s, err));
    size_t len = 0;
    void *data = read_cache(&len);
    VkPipelineCacheCreateInfo cache = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
        .initialDataSize = len,
        .pInitialData = data,
    };
    VkResult r = s->vk.vkCreatePipelineCache(s->device, &cache, NULL, &s->pipe_cache);
    if (r != VK_SUCCESS && data) { // a damaged file: start empty
        cache.initialDataSize = 0;
        cache.pInitialData = NULL;
        r = s->vk.vkCreatePipelineCache(s->device, &cache, NULL, &s->pipe_cache);
    }
    free(data);
    VK_TRY(r);
    for (int p = 0; p < VK_PIPE_COUNT; p++)
        VK_RETURN_IF_FAILED(create_pipeline(s, (VkPipe)p, err));
    write_cache(s, len);
    return PONDER_OK;
}

void vk_pipelines_free(VkState *s)
{
    if (!s->device)
        return;
    for (int p = 0; p < VK_PIPE_COUNT; p++)
        if (s->pipes[p])
            s->vk.vkDestroyPipeline(s->device, s->pipes[p], NULL);
    if (s->pipe_cache)
        s->vk.vkDestroyPipelineCache(s->device, s->pipe_cache, NULL);
    if (s->pipe_layout)
        s->vk.vkDestroyPipelineLayout(s->device, s->pipe_layout, NULL);
    if (s->set_layout)
        s->vk.vkDestroyDescriptorSetLayout(s->device, s->set_layout, NULL);
}
