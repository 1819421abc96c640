// The Vulkan backend's shared state and the functions its files give each other:
//   vk-device.c     the loader (dlopen), instance, device choice, queue
//   vk-memory.c     buffers, staging uploads, one-shot command submission
//   vk-pipelines.c  the compute pipelines and their on-disk cache
//   vk-weights.c    which layers and tensors run here, and their upload
//   vk-forward.c    recording and submitting a step (mirrors forward-cpu.c)
//   ../cpu/forward-cpu.c  the layers and head that run on the CPU (partial offload)
//   vk-backend.c    the Backend table: init (allocations) and free
//
// Environment knobs: PONDER_VULKAN_DEVICE (index among the Vulkan devices, when the
// context params leave gpu_device at -1), PONDER_VULKAN_REUSE=0 (record every step's
// command buffer afresh instead of resubmitting one recorded per step shape),
// PONDER_VULKAN_PIPELINE_CACHE=0 (no pipeline cache file).
#pragma once

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include "runtime/context.h"
#include "cpu/forward-cpu.h"
#include "vk-funcs.h"

typedef struct VkFns {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
#define VK_FN_MEMBER(name) PFN_##name name;
    VK_GLOBAL_FUNCS(VK_FN_MEMBER)
    VK_INSTANCE_FUNCS(VK_FN_MEMBER)
    VK_DEVICE_FUNCS(VK_FN_MEMBER)
#undef VK_FN_MEMBER
} VkFns;

// A buffer with its own memory; MAP is set for host-visible buffers (mapped for life).
typedef struct VkBuf {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size;
    void *map;
} VkBuf;

typedef enum VkMemKind {
    VK_MEM_DEVICE,   // device-local: weights, activations, KV cache
    VK_MEM_UPLOAD,   // host-visible, coherent: staging and the step inputs
    VK_MEM_READBACK, // host-visible, cached where possible: logits
} VkMemKind;

// A weight matrix in device memory in its file's block layout.
typedef struct VkWeight {
    PonderType type;
    VkBuf buf;
    uint32_t row_len, n_rows, row_bytes;
} VkWeight;

typedef struct VkLayer {
    VkBuf attn_norm, ffn_norm; // [n_embd]
    VkBuf bq, bk, bv;          // qwen2 biases; buffer == VK_NULL_HANDLE when absent
    VkBuf q_norm, k_norm;      // qwen3 per-head norms [head_dim]; VK_NULL_HANDLE when absent
    VkWeight wq, wk, wv, wo, w_gate, w_up, w_down;
    VkBuf k_cache, v_cache; // [n_seq][n_ctx][n_head_kv * head_dim] of f16 or f32
} VkLayer;

typedef enum VkPipe {
    VK_PIPE_MATVEC_F32,
    VK_PIPE_MATVEC_F16,
    VK_PIPE_MATVEC_BF16,
    VK_PIPE_MATVEC_Q8_0,
    VK_PIPE_MATVEC_Q4_0,
    VK_PIPE_MATVEC_Q4_1,
    VK_PIPE_MATVEC_Q5_0,
    VK_PIPE_MATVEC_Q5_1,
    VK_PIPE_MATVEC_Q2_K,
    VK_PIPE_MATVEC_Q3_K,
    VK_PIPE_MATVEC_Q4_K,
    VK_PIPE_MATVEC_Q5_K,
    VK_PIPE_MATVEC_Q6_K,
    VK_PIPE_RMS_NORM,
    VK_PIPE_ROPE_STORE_F32,
    VK_PIPE_ROPE_STORE_F16,
    VK_PIPE_ATTENTION_F32,
    VK_PIPE_ATTENTION_F16,
    VK_PIPE_SWIGLU,
    VK_PIPE_COUNT,
} VkPipe;

enum {
    VK_MAX_BINDINGS = 7, // storage buffers of the one descriptor set layout all shaders share
    VK_PUSH_BYTES = 64,  // push constants of every shader fit here
    VK_RECORDINGS = 8,   // step shapes whose command buffers are kept
    VK_ALIGN = 256,      // offsets of buffer regions (the largest minStorageBufferOffsetAlignment)
};

typedef struct VkShaderCode {
    const char *name;
    const uint32_t *words;
    size_t bytes;
} VkShaderCode;
extern const VkShaderCode vk_shader_code[VK_PIPE_COUNT];

// A command buffer recorded for steps of one shape, resubmitted while the shape recurs.
typedef struct VkRecording {
    uint32_t n_tokens, n_out;
    VkCommandBuffer cmd;
    VkDescriptorPool pool;
    uint64_t last_use;
} VkRecording;

typedef struct VkState {
    // instance and device
    void *loader; // libvulkan.so.1
    VkFns vk;
    VkInstance instance;
    VkPhysicalDevice physical;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem_props;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkCommandPool cmd_pool;
    VkFence fence;

    // pipelines
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout pipe_layout;
    VkPipelineCache pipe_cache;
    VkPipeline pipes[VK_PIPE_COUNT];

    // partial offload: layers [0, n_gpu_layers) run here; the rest, and the output head
    // unless every layer is here, run on the CPU
    uint32_t n_gpu_layers;
    bool head_on_gpu;
    CpuLayers *cpu; // layers [n_gpu_layers, n_layer) and the head; NULL when the head runs here
    float *cpu_x;   // the residual stream they continue: x_host's mapping, or embd_x
    float *embd_x;  // [cap][n_embd] with no layer here: the step's token embeddings

    // weights (device-local) and the tables derived from them
    VkLayer *layers;   // [n_gpu_layers]
    VkBuf output_norm; // output_norm and output: only when head_on_gpu
    VkWeight output;
    VkBuf rope_table; // [n_ctx][n_rot / 2] (cos, sin)
    VkBuf dummy;      // bound where a shader's optional input is absent
    VkBuf staging;    // host-visible, for uploads

    // run state, sized for max_step_tokens tokens
    bool kv_f16;
    VkBuf step_host;          // host-visible: seq[cap], pos[cap], rows[cap] | x[cap][n_embd]
    VkBuf step_dev;           // its device copy; the x region is the residual stream
    VkDeviceSize meta_region; // bytes of each of seq, pos and rows (VK_ALIGN multiple)
    VkDeviceSize x_offset;    // of the x region in both (3 * meta_region)
    VkBuf xn, q, k, v, att, gate, up; // activations [cap][…]
    VkBuf logits, logits_host;        // [cap][n_vocab], when head_on_gpu
    VkBuf x_host; // [cap][n_embd] residual stream read back for the CPU, when !head_on_gpu

    bool reuse_recordings;
    VkRecording recordings[VK_RECORDINGS];
    uint64_t clock;
} VkState;

PonderStatus vk_error(PonderError *err, VkResult result, const char *what, const char *file,
                      int line);

// Evaluates a Vulkan call; on failure returns its error (with file and line) from the
// enclosing function, which has a PonderError *err in scope.
#define VK_TRY(call)                                                                               \
    do {                                                                                           \
        VkResult vk_try_result_ = (call);                                                          \
        if (vk_try_result_ != VK_SUCCESS)                                                          \
            return vk_error(err, vk_try_result_, #call, __FILE__, __LINE__);                       \
    } while (0)

#define VK_RETURN_IF_FAILED(expr)                                                                  \
    do {                                                                                           \
        PonderStatus vk_status_ = (expr);                                                          \
        if (vk_status_ != PONDER_OK)                                                               \
            return vk_status_;                                                                     \
    } while (0)

// vk-device.c
PonderStatus vk_open_device(VkState *s, int32_t requested, PonderError *err);
void vk_close_device(VkState *s);

// vk-memory.c
PonderStatus vk_buffer_new(VkState *s, VkDeviceSize size, VkMemKind kind, VkBuf *out,
                           PonderError *err);
void vk_buffer_free(VkState *s, VkBuf *b);
// Copies BYTES from host SRC into DST at OFFSET through the staging buffer.
PonderStatus vk_upload(VkState *s, VkBuf *dst, VkDeviceSize offset, const void *src,
                       VkDeviceSize bytes, PonderError *err);
// A device buffer holding a copy of SRC.
PonderStatus vk_buffer_from(VkState *s, const void *src, VkDeviceSize bytes, VkBuf *out,
                            PonderError *err);
PonderStatus vk_zero(VkState *s, VkBuf *b, PonderError *err);
// Submits CMD and waits for it.
PonderStatus vk_submit_wait(VkState *s, VkCommandBuffer cmd, PonderError *err);

// vk-pipelines.c
PonderStatus vk_pipelines_create(VkState *s, PonderError *err);
void vk_pipelines_free(VkState *s);
// The mat-vec pipeline for weight TYPE; VK_PIPE_COUNT when the backend has none.
VkPipe vk_matvec_pipe(PonderType type);

// vk-weights.c
// Layers on the GPU: ctx->params.gpu_layers, or all of them when it is negative or larger.
uint32_t vk_gpu_layer_count(const PonderContext *ctx);
// Whether what would run on the GPU can run there (weight types, shapes, KV cache type).
PonderStatus vk_check_model(const PonderContext *ctx, PonderError *err);
// Uploads layers [0, s->n_gpu_layers), and the head when s->head_on_gpu.
PonderStatus vk_upload_model(PonderContext *ctx, VkState *s, PonderError *err);
void vk_free_model(VkState *s);

// vk-forward.c
PonderStatus vk_forward(PonderContext *ctx, const StepBatch *step, PonderError *err);
void vk_recordings_free(VkState *s);
