// The SPIR-V of every shader variant, compiled from vulkan_shaders/ at build time by glslc
// (-mfmt=c writes each module as a C initializer; see meson.build), indexed by VkPipe.
#include "vk-backend.h"

#define SPIRV_ENTRY(pipe, words) [pipe] = {#words, words, sizeof words}

static const uint32_t matvec_f32[] =
#include "matvec-f32.inc"
    ;
static const uint32_t matvec_f16[] =
#include "matvec-f16.inc"
    ;
static const uint32_t matvec_bf16[] =
#include "matvec-bf16.inc"
    ;
static const uint32_t matvec_q8_0[] =
#include "matvec-q8_0.inc"
    ;
static const uint32_t matvec_q4_0[] =
#include "matvec-q4_0.inc"
    ;
static const uint32_t matvec_q4_1[] =
#include "matvec-q4_1.inc"
    ;
static const uint32_t matvec_q5_0[] =
#include "matvec-q5_0.inc"
    ;
static const uint32_t matvec_q5_1[] =
#include "matvec-q5_1.inc"
    ;
static const uint32_t matvec_q2_k[] =
#include "matvec-q2_k.inc"
    ;
static const uint32_t matvec_q3_k[] =
#include "matvec-q3_k.inc"
    ;
static const uint32_t matvec_q4_k[] =
#include "matvec-q4_k.inc"
    ;
static const uint32_t matvec_q5_k[] =
#include "matvec-q5_k.inc"
    ;
static const uint32_t matvec_q6_k[] =
#include "matvec-q6_k.inc"
    ;
static const uint32_t rms_norm[] =
#include "rms_norm.inc"
    ;
static const uint32_t rope_store_f32[] =
#include "rope_store-f32.inc"
    ;
static const uint32_t rope_store_f16[] =
#include "rope_store-f16.inc"
    ;
static const uint32_t attention_f32[] =
#include "attention-f32.inc"
    ;
static const uint32_t attention_f16[] =
#include "attention-f16.inc"
    ;
static const uint32_t swiglu[] =
#include "swiglu.inc"
    ;

const VkShaderCode vk_shader_code[VK_PIPE_COUNT] = {
    SPIRV_ENTRY(VK_PIPE_MATVEC_F32, matvec_f32),
    SPIRV_ENTRY(VK_PIPE_MATVEC_F16, matvec_f16),
    SPIRV_ENTRY(VK_PIPE_MATVEC_BF16, matvec_bf16),
    SPIRV_ENTRY(VK_PIPE_MATVEC_Q8_0, matvec_q8_0),
    SPIRV_ENTRY(VK_PIPE_MATVEC_Q4_0, matvec_q4_0),
    SPIRV_ENTRY(VK_PIPE_MATVEC_Q4_1, matvec_q4_1),
    SPIRV_ENTRY(VK_PIPE_MATVEC_Q5_0, matvec_q5_0),
    SPIRV_ENTRY(VK_PIPE_MATVEC_Q5_1, matvec_q5_1),
    SPIRV_ENTRY(VK_PIPE_MATVEC_Q2_K, matvec_q2_k),
    SPIRV_ENTRY(VK_PIPE_MATVEC_Q3_K, matvec_q3_k),
    SPIRV_ENTRY(VK_PIPE_MATVEC_Q4_K, matvec_q4_k),
    SPIRV_ENTRY(VK_PIPE_MATVEC_Q5_K, matvec_q5_k),
    SPIRV_ENTRY(VK_PIPE_MATVEC_Q6_K, matvec_q6_k),
    SPIRV_ENTRY(VK_PIPE_RMS_NORM, rms_norm),
    SPIRV_ENTRY(VK_PIPE_ROPE_STORE_F32, rope_store_f32),
    SPIRV_ENTRY(VK_PIPE_ROPE_STORE_F16, rope_store_f16),
    SPIRV_ENTRY(VK_PIPE_ATTENTION_F32, attention_f32),
    SPIRV_ENTRY(VK_PIPE_ATTENTION_F16, attention_f16),
    SPIRV_ENTRY(VK_PIPE_SWIGLU, swiglu),
};
