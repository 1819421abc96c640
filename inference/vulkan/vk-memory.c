// Buffers and transfers. Every buffer has its own memory allocation (a model has a few
// hundred tensors, far below maxMemoryAllocationCount) and the storage-buffer usage, so
// any of them can be bound to a shader. Host-visible buffers stay mapped.
#include <string.h>

#include "vk-backend.h"

enum { STAGING_BYTES = 16 << 20 };

static bool find_memory_type(const VkState *s, uint32_t allowed, VkMemoryPropertyFlags want,
                             uint32_t *index)
{
    for (uint32_t i = 0; i < s->mem_props.memoryTypeCount; i++)
        if ((allowed & (1u << i)) && (s->mem_props.memoryTypes[i].propertyFlags & want) == want) {
            *index = i;
            return true;
        }
    return false;
}

PonderStatus vk_buffer_new(VkState *s, VkDeviceSize size, VkMemKind kind, VkBuf *out,
                           PonderError *err)
{
    memset(out, 0, sizeof *out);
    size = (size + 15) / 16 * 16;
    if (size > s->props.limits.maxStorageBufferRange)
        return ponder_set_error(
            err, PONDER_ERR_UNSUPPORTED,
            "a buffer of %.1f MiB is above %s's storage buffer limit of %.1f MiB", size / 1048576.0,
            s->props.deviceName, s->props.limits.maxStorageBufferRange / 1048576.0);
    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VK_TRY(s->vk.vkCreateBuffer(s->device, &info, NULL, &out->buffer));
    out->size = size;
    VkMemoryRequirements req;
    s->vk.vkGetBufferMemoryRequirements(s->device, out->buffer, &req);

    const VkMemoryPropertyFlags host =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    const VkMemoryPropertyFlags cached = host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    uint32_t type = 0, allowed = req.memoryTypeBits;
    bool found;
    if (kind == VK_MEM_DEVICE)
        found = find_memory_type(s, allowed, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, &type);
    else if (kind == VK_MEM_READBACK) // cached memory makes the host's reads fast
        found = find_memory_type(s, allowed, cached, &type) ||
                find_memory_type(s, allowed, host, &type);
    else
        found = find_memory_type(s, allowed, host, &type);
    if (!found && kind == VK_MEM_DEVICE)
        found = find_memory_type(s, req.memoryTypeBits, 0, &type);
    if (!found)
        return ponder_set_error(
            err, PONDER_ERR_UNSUPPORTED, "%s has no suitable memory type for a %s buffer",
            s->props.deviceName, kind == VK_MEM_DEVICE ? "device" : "host-visible");
    VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = type,
    };
    VkResult r = s->vk.vkAllocateMemory(s->device, &alloc, NULL, &out->memory);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY,
                                "%s is out of memory allocating %.1f MiB", s->props.deviceName,
                                req.size / 1048576.0);
    VK_TRY(r);
    VK_TRY(s->vk.vkBindBufferMemory(s->device, out->buffer, out->memory, 0));
    if (kind != VK_MEM_DEVICE)
        VK_TRY(s->vk.vkMapMemory(s->device, out->memory, 0, VK_WHOLE_SIZE, 0, &out->map));
    return PONDER_OK;
}

void vk_buffer_free(VkState *s, VkBuf *b)
{
    if (!s->device)
        return;
    if (b->buffer)
        s->vk.vkDestroyBuffer(s->device, b->buffer, NULL);
    if (b->memory)
        s->vk.vkFreeMemory(s->device, b->memory, NULL); // unmaps too
    memset(b, 0, sizeof *b);
}

PonderStatus vk_submit_wait(VkState *s, VkCommandBuffer cmd, PonderError *err)
{
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
    VK_TRY(s->vk.vkResetFences(s->device, 1, &s->fence));
    VK_TRY(s->vk.vkQueueSubmit(s->queue, 1, &submit, s->fence));
    VK_TRY(s->vk.vkWaitForFences(s->device, 1, &s->fence, VK_TRUE, UINT64_MAX));
    return PONDER_OK;
}

typedef struct OneShot {
    VkCommandBuffer cmd;
} OneShot;

static PonderStatus one_shot_begin(VkState *s, OneShot *o, PonderError *err)
{
    VkCommandBufferAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = s->cmd_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VK_TRY(s->vk.vkAllocateCommandBuffers(s->device, &alloc, &o->cmd));
    VkCommandBufferBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VK_TRY(s->vk.vkBeginCommandBuffer(o->cmd, &begin));
    return PONDER_OK;
}

static PonderStatus one_shot_end(VkState *s, OneShot *o, PonderError *err)
{
    VkResult r = s->vk.vkEndCommandBuffer(o->cmd);
    PonderStatus st = r == VK_SUCCESS ? vk_submit_wait(s, o->cmd, err)
                                      : vk_error(err, r, "vkEndCommandBuffer", __FILE__, __LINE__);
    s->vk.vkFreeCommandBuffers(s->device, s->cmd_pool, 1, &o->cmd);
    return st;
}

PonderStatus vk_upload(VkState *s, VkBuf *dst, VkDeviceSize offset, const void *src,
                       VkDeviceSize bytes, PonderError *err)
{
    if (!s->staging.buffer)
        VK_RETURN_IF_FAILED(vk_buffer_new(s, STAGING_BYTES, VK_MEM_UPLOAD, &s->staging, err));
    for (VkDeviceSize done = 0; done < bytes;) {
        VkDeviceSize n = bytes - done < s->staging.size ? bytes - done : s->staging.size;
        memcpy(s->staging.map, (const uint8_t *)src + done, n);
        OneShot o;
        VK_RETURN_IF_FAILED(one_shot_begin(s, &o, err));
        VkBufferCopy region = {.srcOffset = 0, .dstOffset = offset + done, .size = n};
        s->vk.vkCmdCopyBuffer(o.cmd, s->staging.buffer, dst->buffer, 1, &region);
        VK_RETURN_IF_FAILED(one_shot_end(s, &o, err));
        done += n;
    }
    return PONDER_OK;
}

PonderStatus vk_buffer_from(VkState *s, const void *src, VkDeviceSize bytes, VkBuf *out,
                            PonderError *err)
{
    VK_RETURN_IF_FAILED(vk_buffer_new(s, bytes, VK_MEM_DEVICE, out, err));
    return vk_upload(s, out, 0, src, bytes, err);
}

PonderStatus vk_zero(VkState *s, VkBuf *b, PonderError *err)
{
    OneShot o;
    VK_RETURN_IF_FAILED(one_shot_begin(s, &o, err));
    s->vk.vkCmdFillBuffer(o.cmd, b->buffer, 0, VK_WHOLE_SIZE, 0);
    return one_shot_end(s, &o, err);
}
