// One forward step on the GPU, read top to bottom in record_step(); it mirrors
// forward-cpu.c op for op.
//
// A step's inputs (each token's sequence, position and embedding row, which the host
// looks up in the mapped file, and the rows whose logits are wanted) are written to a
// host-visible block and copied to the device at the start of the step, and every shader
// reads them from there. So the commands of a step depend only on its shape (tokens,
// output rows): the command buffer is recorded once per shape and resubmitted, the
// Vulkan counterpart of the CUDA backend's graphs. One submission and one wait per step.
//
// With partial offload the recording stops after the GPU's layers with a copy of the
// residual stream to host memory, and the CPU forward pass runs the rest
// (cpu_layers_forward).
#include <math.h>
#include <string.h>

#include "vk-backend.h"

typedef struct Range {
    VkBuffer buffer;
    VkDeviceSize offset, size;
} Range;

static Range whole(const VkBuf *b)
{
    return (Range){b->buffer, 0, VK_WHOLE_SIZE};
}

static Range region(const VkBuf *b, VkDeviceSize offset, VkDeviceSize size)
{
    return (Range){b->buffer, offset, size};
}

typedef struct Recorder {
    VkState *s;
    VkCommandBuffer cmd;
    VkDescriptorPool pool;
} Recorder;

static void barrier(Recorder *r, VkPipelineStageFlags src_stage, VkAccessFlags src,
                    VkPipelineStageFlags dst_stage, VkAccessFlags dst)
{
    VkMemoryBarrier b = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src, .dstAccessMask = dst};
    r->s->vk.vkCmdPipelineBarrier(r->cmd, src_stage, dst_stage, 0, 1, &b, 0, NULL, 0, NULL);
}

// Records one shader run over BINDINGS (unused slots get the dummy buffer), followed by a
// barrier so the next op sees its writes.
static PonderStatus dispatch(Recorder *r, VkPipe pipe, const Range *bindings, uint32_t n_bindings,
                             const void *push, uint32_t push_bytes, uint32_t gx, uint32_t gy,
                             PonderError *err)
{
    VkState *s = r->s;
    VkDescriptorSetAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = r->pool,
        .descriptorSetCount = 1,
        .pSetLayouts = &s->set_layout,
    };
    VkDescriptorSet set;
    VK_TRY(s->vk.vkAllocateDescriptorSets(s->device, &alloc, &set));
    VkDescriptorBufferInfo infos[VK_MAX_BINDINGS];
    VkWriteDescriptorSet writes[VK_MAX_BINDINGS];
    for (uint32_t i = 0; i < VK_MAX_BINDINGS; i++) {
        Range b = i < n_bindings && bindings[i].buffer ? bindings[i] : whole(&s->dummy);
        infos[i] =
            (VkDescriptorBufferInfo){.buffer = b.buffer, .offset = b.offset, .range = b.size};
        writes[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &infos[i],
        };
    }
    s->vk.vkUpdateDescriptorSets(s->device, VK_MAX_BINDINGS, writes, 0, NULL);
    s->vk.vkCmdBindPipeline(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s->pipes[pipe]);
    s->vk.vkCmdBindDescriptorSets(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s->pipe_layout, 0, 1,
                                  &set, 0, NULL);
    s->vk.vkCmdPushConstants(r->cmd, s->pipe_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes,
                             push);
    s->vk.vkCmdDispatch(r->cmd, gx, gy, 1);
    barrier(r, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    return PONDER_OK;
}

// N workgroups as a 2-D grid (flat_group_id() in the shaders undoes it).
static void grid(uint32_t n, uint32_t *gx, uint32_t *gy)
{
    const uint32_t max_x = 65535;
    *gx = n < max_x ? (n ? n : 1) : max_x;
    *gy = (n + *gx - 1) / *gx;
    if (*gy == 0)
        *gy = 1;
}

// Y[t] (+)= W X[t] (+ BIAS) for t < n_tokens.
static PonderStatus matvec(Recorder *r, const VkWeight *w, Range x, uint32_t x_stride, Range y,
                           uint32_t y_stride, const VkBuf *bias, uint32_t n_tokens, bool accumulate,
                           PonderError *err)
{
    struct {
        uint32_t row_len, n_rows, n_tokens, row_bytes;
        uint32_t x_stride, y_stride, accumulate, has_bias;
    } push = {w->row_len, w->n_rows, n_tokens,   w->row_bytes,
              x_stride,   y_stride,  accumulate, bias && bias->buffer};
    Range b[4] = {whole(&w->buf), x, y, bias ? whole(bias) : (Range){0}};
    uint32_t gx, gy;
    grid(w->n_rows, &gx, &gy);
    return dispatch(r, vk_matvec_pipe(w->type), b, 4, &push, sizeof push, gx, gy, err);
}

static PonderStatus rms_norm(Recorder *r, Range x, const VkBuf *weight, Range out, Range rows,
                             uint32_t n, uint32_t n_rows, float eps, PonderError *err)
{
    struct {
        uint32_t n, n_rows, use_rows;
        float eps;
    } push = {n, n_rows, rows.buffer != VK_NULL_HANDLE, eps};
    Range b[4] = {x, whole(weight), out, rows};
    uint32_t gx, gy;
    grid(n_rows, &gx, &gy);
    return dispatch(r, VK_PIPE_RMS_NORM, b, 4, &push, sizeof push, gx, gy, err);
}

// Copies BYTES of SRC from SRC_OFFSET to the start of the host-visible DST after the
// shaders' writes, made visible to the host reads that follow the step's fence.
static void copy_to_host(Recorder *r, const VkBuf *src, VkDeviceSize src_offset, const VkBuf *dst,
                         VkDeviceSize bytes)
{
    VkBufferCopy copy = {.srcOffset = src_offset, .size = bytes};
    barrier(r, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
    r->s->vk.vkCmdCopyBuffer(r->cmd, src->buffer, dst->buffer, 1, &copy);
    barrier(r, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
}

static PonderStatus record_step(PonderContext *ctx, VkState *s, Recorder *r, uint32_t T,
                                uint32_t n_out, PonderError *err)
{
    const PonderModel *m = ctx->model;
    const ModelHparams *hp = &m->hp;
    const uint32_t d = hp->n_embd, n_ff = hp->n_ff;
    const uint32_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const VkDeviceSize meta_words = s->meta_region / sizeof(uint32_t);
    const Range x =
        region(&s->step_dev, s->x_offset, (VkDeviceSize)ctx->max_step_tokens * d * sizeof(float));
    const Range meta = region(&s->step_dev, 0, 2 * meta_words * sizeof(uint32_t));
    const Range out_rows =
        region(&s->step_dev, 2 * meta_words * sizeof(uint32_t), meta_words * sizeof(uint32_t));
    const Range none = {0};

    // inputs: sequences, positions, output rows, embedding rows (the residual stream x)
    VkBufferCopy inputs = {.size = s->x_offset + (VkDeviceSize)T * d * sizeof(float)};
    s->vk.vkCmdCopyBuffer(r->cmd, s->step_host.buffer, s->step_dev.buffer, 1, &inputs);
    barrier(r, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);

    for (uint32_t l = 0; l < s->n_gpu_layers; l++) {
        const VkLayer *L = &s->layers[l];

        // attention: normalise, then q, k, v projections (+ biases in qwen2)
        VK_RETURN_IF_FAILED(
            rms_norm(r, x, &L->attn_norm, whole(&s->xn), none, d, T, hp->rms_eps, err));
        VK_RETURN_IF_FAILED(
            matvec(r, &L->wq, whole(&s->xn), d, whole(&s->q), q_dim, &L->bq, T, false, err));
        VK_RETURN_IF_FAILED(
            matvec(r, &L->wk, whole(&s->xn), d, whole(&s->k), kv_dim, &L->bk, T, false, err));
        VK_RETURN_IF_FAILED(
            matvec(r, &L->wv, whole(&s->xn), d, whole(&s->v), kv_dim, &L->bv, T, false, err));

        // qwen3: RMSNorm of every head of q and k, in place (one workgroup per head)
        if (L->q_norm.buffer) {
            VK_RETURN_IF_FAILED(rms_norm(r, whole(&s->q), &L->q_norm, whole(&s->q), none,
                                         hp->head_dim, T * hp->n_head, hp->rms_eps, err));
            VK_RETURN_IF_FAILED(rms_norm(r, whole(&s->k), &L->k_norm, whole(&s->k), none,
                                         hp->head_dim, T * hp->n_head_kv, hp->rms_eps, err));
        }

        // rotate q and k by position; append k and v to each token's sequence cache
        struct {
            uint32_t n_head, n_head_kv, head_dim, n_rot, halves, n_ctx, meta_cap;
        } rope = {hp->n_head,
                  hp->n_head_kv,
                  hp->head_dim,
                  hp->n_rot,
                  hp->rope_style == ROPE_STYLE_HALVES,
                  ctx->n_ctx,
                  (uint32_t)meta_words};
        Range rope_b[7] = {whole(&s->q),         whole(&s->k),       whole(&s->v),
                           whole(&L->k_cache),   whole(&L->v_cache), meta,
                           whole(&s->rope_table)};
        VK_RETURN_IF_FAILED(dispatch(r, s->kv_f16 ? VK_PIPE_ROPE_STORE_F16 : VK_PIPE_ROPE_STORE_F32,
                                     rope_b, 7, &rope, sizeof rope, T, 1, err));

        // causal attention of each token over its own sequence
        struct {
            uint32_t n_head, n_head_kv, head_dim, n_ctx, meta_cap;
            float scale;
        } att = {hp->n_head, hp->n_head_kv,        hp->head_dim,
                 ctx->n_ctx, (uint32_t)meta_words, model_attention_scale(hp)};
        Range att_b[5] = {whole(&s->q), whole(&L->k_cache), whole(&L->v_cache), whole(&s->att),
                          meta};
        VK_RETURN_IF_FAILED(dispatch(r, s->kv_f16 ? VK_PIPE_ATTENTION_F16 : VK_PIPE_ATTENTION_F32,
                                     att_b, 5, &att, sizeof att, hp->n_head, T, err));

        // output projection added to the residual stream
        VK_RETURN_IF_FAILED(matvec(r, &L->wo, whole(&s->att), q_dim, x, d, NULL, T, true, err));

        // feed-forward: normalise, gate and up, SwiGLU, down added to the residual
        VK_RETURN_IF_FAILED(
            rms_norm(r, x, &L->ffn_norm, whole(&s->xn), none, d, T, hp->rms_eps, err));
        VK_RETURN_IF_FAILED(
            matvec(r, &L->w_gate, whole(&s->xn), d, whole(&s->gate), n_ff, NULL, T, false, err));
        VK_RETURN_IF_FAILED(
            matvec(r, &L->w_up, whole(&s->xn), d, whole(&s->up), n_ff, NULL, T, false, err));
        struct {
            uint32_t n;
        } glu = {T * n_ff};
        Range glu_b[2] = {whole(&s->gate), whole(&s->up)};
        uint32_t gx, gy;
        grid((glu.n + 255) / 256, &gx, &gy);
        VK_RETURN_IF_FAILED(dispatch(r, VK_PIPE_SWIGLU, glu_b, 2, &glu, sizeof glu, gx, gy, err));
        VK_RETURN_IF_FAILED(matvec(r, &L->w_down, whole(&s->gate), n_ff, x, d, NULL, T, true, err));
    }

    // partial offload: the CPU continues from the residual stream
    if (!s->head_on_gpu) {
        copy_to_host(r, &s->step_dev, s->x_offset, &s->x_host, (VkDeviceSize)T * d * sizeof(float));
        return PONDER_OK;
    }

    // output head, only for the rows the caller asked for
    if (n_out == 0)
        return PONDER_OK;
    VK_RETURN_IF_FAILED(
        rms_norm(r, x, &s->output_norm, whole(&s->xn), out_rows, d, n_out, hp->rms_eps, err));
    VK_RETURN_IF_FAILED(matvec(r, &s->output, whole(&s->xn), d, whole(&s->logits), hp->n_vocab,
                               NULL, n_out, false, err));
    copy_to_host(r, &s->logits, 0, &s->logits_host,
                 (VkDeviceSize)n_out * hp->n_vocab * sizeof(float));
    return PONDER_OK;
}

static void recording_release(VkState *s, VkRecording *rec)
{
    if (rec->cmd)
        s->vk.vkFreeCommandBuffers(s->device, s->cmd_pool, 1, &rec->cmd);
    if (rec->pool)
        s->vk.vkDestroyDescriptorPool(s->device, rec->pool, NULL);
    memset(rec, 0, sizeof *rec);
}

void vk_recordings_free(VkState *s)
{
    if (!s->device)
        return;
    for (int i = 0; i < VK_RECORDINGS; i++)
        recording_release(s, &s->recordings[i]);
}

static PonderStatus record(PonderContext *ctx, VkState *s, VkRecording *rec, uint32_t T,
                           uint32_t n_out, PonderError *err)
{
    recording_release(s, rec);
    uint32_t max_sets = ctx->model->hp.n_layer * 12 + 8;
    VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                 .descriptorCount = max_sets * VK_MAX_BINDINGS};
    VkDescriptorPoolCreateInfo pool = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = max_sets,
        .poolSizeCount = 1,
        .pPoolSizes = &size,
    };
    VK_TRY(s->vk.vkCreateDescriptorPool(s->device, &pool, NULL, &rec->pool));
    VkCommandBufferAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = s->cmd_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VK_TRY(s->vk.vkAllocateCommandBuffers(s->device, &alloc, &rec->cmd));
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    VK_TRY(s->vk.vkBeginCommandBuffer(rec->cmd, &begin));
    Recorder r = {.s = s, .cmd = rec->cmd, .pool = rec->pool};
    PonderStatus st = record_step(ctx, s, &r, T, n_out, err);
    VkResult end = s->vk.vkEndCommandBuffer(rec->cmd);
    if (st != PONDER_OK) {
        recording_release(s, rec);
        return st;
    }
    if (end != VK_SUCCESS) {
        recording_release(s, rec);
        return vk_error(err, end, "vkEndCommandBuffer", __FILE__, __LINE__);
    }
    rec->n_tokens = T;
    rec->n_out = n_out;
    return PONDER_OK;
}

// The command buffer of steps shaped (T, N_OUT): kept from an earlier step, or recorded
// (replacing the least recently used).
static PonderStatus recording_for(PonderContext *ctx, VkState *s, uint32_t T, uint32_t n_out,
                                  VkCommandBuffer *out, PonderError *err)
{
    VkRecording *slot = &s->recordings[0];
    for (int i = 0; s->reuse_recordings && i < VK_RECORDINGS; i++) {
        VkRecording *rec = &s->recordings[i];
        if (rec->cmd && rec->n_tokens == T && rec->n_out == n_out) {
            rec->last_use = ++s->clock;
            *out = rec->cmd;
            return PONDER_OK;
        }
        if (!rec->cmd || (slot->cmd && rec->last_use < slot->last_use))
            slot = rec;
    }
    VK_RETURN_IF_FAILED(record(ctx, s, slot, T, n_out, err));
    slot->last_use = ++s->clock;
    *out = slot->cmd;
    return PONDER_OK;
}

// Fills the host-visible step block: metadata and each token's embedding row.
static void stage_inputs(PonderContext *ctx, VkState *s, const StepBatch *step)
{
    const PonderModel *m = ctx->model;
    const uint32_t d = m->hp.n_embd;
    uint32_t *meta = s->step_host.map;
    const uint64_t words = s->meta_region / sizeof(uint32_t);
    float *x = (float *)((uint8_t *)s->step_host.map + s->x_offset);
    for (uint32_t t = 0; t < step->n_tokens; t++) {
        meta[t] = (uint32_t)step->seq[t];
        meta[words + t] = step->pos[t];
        weight_row_to_float(&m->token_embd, (uint64_t)step->tokens[t], x + (uint64_t)t * d);
    }
    for (uint32_t i = 0; i < step->n_out; i++)
        meta[2 * words + i] = step->out_rows[i];
}

PonderStatus vk_forward(PonderContext *ctx, const StepBatch *step, PonderError *err)
{
    VkState *s = ctx->backend_state;
    if (context_cancelled(ctx))
        return ponder_set_error(err, PONDER_ERR_CANCELLED, "cancelled");
    if (step->n_tokens == 0)
        return PONDER_OK;
    if (s->n_gpu_layers > 0) {
        stage_inputs(ctx, s, step);
        // without the head here, steps differ only in their token count
        uint32_t n_out = s->head_on_gpu ? step->n_out : 0;
        VkCommandBuffer cmd;
        VK_RETURN_IF_FAILED(recording_for(ctx, s, step->n_tokens, n_out, &cmd, err));
        VK_RETURN_IF_FAILED(vk_submit_wait(s, cmd, err));
    } else {
        cpu_embed_tokens(ctx->model, step, s->cpu_x); // no layer here: all on the CPU
    }
    if (s->cpu)
        return cpu_layers_forward(s->cpu, step, s->cpu_x, true, err);
    memcpy(step->logits, s->logits_host.map,
           (uint64_t)step->n_out * ctx->model->hp.n_vocab * sizeof(float));
    return PONDER_OK;
}
