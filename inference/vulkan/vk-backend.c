// The Vulkan backend module (libponder-vulkan.so): the Backend table that the library
// finds through ponder_backend_entry, and the allocation of everything a context needs on
// the device. The forward pass is in vk-forward.c; vk-backend.h lists the files.
#include <stdlib.h>
#include <string.h>

#include "runtime/backend-module.h"
#include "vk-backend.h"

static VkDeviceSize align_up(VkDeviceSize n)
{
    return (n + VK_ALIGN - 1) / VK_ALIGN * VK_ALIGN;
}

// Sized for the layers on the GPU; the logits only when the head runs here, else the
// read-back residual stream that the CPU layers continue from.
static PonderStatus alloc_run_state(PonderContext *ctx, VkState *s, PonderError *err)
{
    const ModelHparams *hp = &ctx->model->hp;
    const VkDeviceSize T = ctx->max_step_tokens, f = sizeof(float);
    const VkDeviceSize q_dim = (VkDeviceSize)hp->n_head * hp->head_dim;
    const VkDeviceSize kv_dim = (VkDeviceSize)hp->n_head_kv * hp->head_dim;
    s->meta_region = align_up(T * sizeof(uint32_t));
    s->x_offset = 3 * s->meta_region;
    VkDeviceSize step_bytes = s->x_offset + T * hp->n_embd * f;
    VK_RETURN_IF_FAILED(vk_buffer_new(s, step_bytes, VK_MEM_UPLOAD, &s->step_host, err));
    VK_RETURN_IF_FAILED(vk_buffer_new(s, step_bytes, VK_MEM_DEVICE, &s->step_dev, err));
    memset(s->step_host.map, 0, step_bytes);
    struct {
        VkBuf *buf;
        VkDeviceSize floats;
    } acts[] = {
        {&s->xn, T * hp->n_embd}, {&s->q, T * q_dim},   {&s->k, T * kv_dim},
        {&s->v, T * kv_dim},      {&s->att, T * q_dim}, {&s->gate, T * hp->n_ff},
        {&s->up, T * hp->n_ff},
    };
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        VK_RETURN_IF_FAILED(vk_buffer_new(s, acts[i].floats * f, VK_MEM_DEVICE, acts[i].buf, err));
    if (s->head_on_gpu) {
        VK_RETURN_IF_FAILED(vk_buffer_new(s, T * hp->n_vocab * f, VK_MEM_DEVICE, &s->logits, err));
        VK_RETURN_IF_FAILED(
            vk_buffer_new(s, T * hp->n_vocab * f, VK_MEM_READBACK, &s->logits_host, err));
    } else {
        VK_RETURN_IF_FAILED(vk_buffer_new(s, T * hp->n_embd * f, VK_MEM_READBACK, &s->x_host, err));
    }
    return vk_buffer_new(s, 64, VK_MEM_DEVICE, &s->dummy, err);
}

static void vk_free(PonderContext *ctx)
{
    VkState *s = ctx->backend_state;
    if (!s)
        return;
    cpu_layers_free(s->cpu);
    free(s->embd_x);
    if (s->device) {
        s->vk.vkDeviceWaitIdle(s->device);
        vk_recordings_free(s);
        vk_pipelines_free(s);
        vk_free_model(s);
        VkBuf *bufs[] = {&s->step_host, &s->step_dev, &s->xn,     &s->q,          &s->k,
                         &s->v,         &s->att,      &s->gate,   &s->up,         &s->logits,
                         &s->dummy,     &s->staging,  &s->x_host, &s->logits_host};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
            vk_buffer_free(s, bufs[i]);
    }
    vk_close_device(s);
    free(s);
    ctx->backend_state = NULL;
}

static PonderStatus vk_init(PonderContext *ctx, PonderError *err)
{
    VK_RETURN_IF_FAILED(vk_check_model(ctx, err));
    VkState *s = calloc(1, sizeof *s);
    if (!s)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
    ctx->backend_state = s;
    s->kv_f16 = ctx->kv_type == PONDER_TYPE_F16;
    const char *reuse = getenv("PONDER_VULKAN_REUSE");
    s->reuse_recordings = !(reuse && strcmp(reuse, "0") == 0);
    s->n_gpu_layers = vk_gpu_layer_count(ctx);
    s->head_on_gpu = s->n_gpu_layers == ctx->model->hp.n_layer;
    // the device is opened even for 0 layers, so asking for Vulkan without one still fails
    VK_RETURN_IF_FAILED(vk_open_device(s, ctx->params.gpu_device, err));
    if (s->n_gpu_layers > 0) {
        VK_RETURN_IF_FAILED(vk_pipelines_create(s, err));
        VK_RETURN_IF_FAILED(alloc_run_state(ctx, s, err));
        VK_RETURN_IF_FAILED(vk_upload_model(ctx, s, err));
        // the staging buffer is only needed for the upload
        vk_buffer_free(s, &s->staging);
    }
    if (!s->head_on_gpu) {
        VK_RETURN_IF_FAILED(
            cpu_layers_new(ctx, s->n_gpu_layers, ctx->model->hp.n_layer, &s->cpu, err));
        // the CPU continues from the residual stream read back after the GPU's layers, or
        // with no layer here from the step's embeddings (vk_forward writes them)
        s->cpu_x = s->x_host.map;
        if (s->n_gpu_layers == 0) {
            uint64_t floats = (uint64_t)ctx->max_step_tokens * ctx->model->hp.n_embd;
            if (!(s->cpu_x = s->embd_x = malloc(floats * sizeof(float))))
                return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
        }
    }
    return PONDER_OK;
}

// The caches of the GPU's layers (vk-weights.c), and the host cache of the layers left to
// the CPU.
static KvBytes vk_kv_bytes(const PonderContext *ctx)
{
    const VkState *s = ctx->backend_state;
    KvBytes kv = {.host = cpu_layers_kv_bytes(s->cpu)};
    for (uint32_t l = 0; s->layers && l < s->n_gpu_layers; l++)
        kv.device += s->layers[l].k_cache.size + s->layers[l].v_cache.size;
    return kv;
}

static const Backend vulkan_backend = {
    .name = "vulkan",
    .init = vk_init,
    .free = vk_free,
    .forward = vk_forward,
    .kv_bytes = vk_kv_bytes,
};

__attribute__((visibility("default"))) const Backend *ponder_backend_entry(int abi_version);

const Backend *ponder_backend_entry(int abi_version)
{
    return abi_version == BACKEND_ABI_VERSION ? &vulkan_backend : NULL;
}
