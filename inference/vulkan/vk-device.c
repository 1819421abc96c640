// The Vulkan loader, instance and device. The loader is opened with dlopen and every
// entry point fetched through vkGetInstanceProcAddr / vkGetDeviceProcAddr, so this module
// loads on machines without libvulkan and says so in an error message instead.
//
// Device choice: the one the user named (gpu_device, else $PONDER_VULKAN_DEVICE: an index
// among the Vulkan physical devices), else the first discrete GPU, then integrated,
// virtual, and last the CPU (lavapipe). A device needs Vulkan 1.1 and a compute queue.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk-backend.h"

enum { MAX_DEVICES = 16 };

static const char *result_name(VkResult r)
{
    switch (r) {
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult";
    }
}

PonderStatus vk_error(PonderError *err, VkResult result, const char *what, const char *file,
                      int line)
{
    const char *base = strrchr(file, '/');
    PonderStatus status =
        result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY
            ? PONDER_ERR_NO_MEMORY
            : PONDER_ERR_BACKEND;
    return ponder_set_error(err, status, "Vulkan error at %s:%d: %s: %s (%d)",
                            base ? base + 1 : file, line, what, result_name(result), (int)result);
}

static PonderStatus missing_function(PonderError *err, const char *name)
{
    return ponder_set_error(err, PONDER_ERR_UNSUPPORTED, "the Vulkan loader lacks %s", name);
}

static PonderStatus open_loader(VkState *s, PonderError *err)
{
    s->loader = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!s->loader)
        return ponder_set_error(err, PONDER_ERR_UNSUPPORTED,
                                "no Vulkan loader (libvulkan.so.1): %s", dlerror());
    s->vk.vkGetInstanceProcAddr =
        (PFN_vkGetInstanceProcAddr)dlsym(s->loader, "vkGetInstanceProcAddr");
    if (!s->vk.vkGetInstanceProcAddr)
        return missing_function(err, "vkGetInstanceProcAddr");
#define VK_LOAD_GLOBAL(name) s->vk.name = (PFN_##name)s->vk.vkGetInstanceProcAddr(NULL, #name);
    VK_GLOBAL_FUNCS(VK_LOAD_GLOBAL)
#undef VK_LOAD_GLOBAL
    if (!s->vk.vkCreateInstance)
        return missing_function(err, "vkCreateInstance");
    uint32_t version = VK_API_VERSION_1_0;
    if (s->vk.vkEnumerateInstanceVersion)
        s->vk.vkEnumerateInstanceVersion(&version);
    if (version < VK_API_VERSION_1_1)
        return ponder_set_error(
            err, PONDER_ERR_UNSUPPORTED,
            "the Vulkan loader supports Vulkan %u.%u; the Vulkan backend needs 1.1",
            VK_API_VERSION_MAJOR(version), VK_API_VERSION_MINOR(version));
    return PONDER_OK;
}

static PonderStatus create_instance(VkState *s, PonderError *err)
{
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "Ponder",
        .pEngineName = "ponder-inference",
        .apiVersion = VK_API_VERSION_1_1,
    };
    VkInstanceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                 .pApplicationInfo = &app};
    VkResult r = s->vk.vkCreateInstance(&info, NULL, &s->instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        return ponder_set_error(err, PONDER_ERR_UNSUPPORTED,
                                "no suitable Vulkan device (no Vulkan 1.1 driver)");
    VK_TRY(r);
#define VK_LOAD_INSTANCE(name)                                                                     \
    if (!(s->vk.name = (PFN_##name)s->vk.vkGetInstanceProcAddr(s->instance, #name)))               \
        return missing_function(err, #name);
    VK_INSTANCE_FUNCS(VK_LOAD_INSTANCE)
#undef VK_LOAD_INSTANCE
    return PONDER_OK;
}

// Lower is better; -1: the device cannot run the backend.
static int device_rank(VkState *s, VkPhysicalDevice dev, uint32_t *queue_family)
{
    VkPhysicalDeviceProperties props;
    s->vk.vkGetPhysicalDeviceProperties(dev, &props);
    if (props.apiVersion < VK_API_VERSION_1_1)
        return -1;
    VkQueueFamilyProperties families[32];
    uint32_t n = 0;
    s->vk.vkGetPhysicalDeviceQueueFamilyProperties(dev, &n, NULL);
    n = n < 32 ? n : 32;
    s->vk.vkGetPhysicalDeviceQueueFamilyProperties(dev, &n, families);
    uint32_t found = UINT32_MAX;
    for (uint32_t i = 0; i < n && found == UINT32_MAX; i++)
        if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
            found = i;
    if (found == UINT32_MAX)
        return -1;
    *queue_family = found;
    switch (props.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
    }
}

static int32_t requested_device(int32_t requested)
{
    if (requested >= 0)
        return requested;
    const char *env = getenv("PONDER_VULKAN_DEVICE");
    if (!env || !*env)
        return -1;
    char *end;
    long n = strtol(env, &end, 10);
    return *end == '\0' && n >= 0 && n < MAX_DEVICES ? (int32_t)n : -1;
}

static PonderStatus choose_device(VkState *s, int32_t requested, PonderError *err)
{
    VkPhysicalDevice devices[MAX_DEVICES];
    uint32_t n = 0;
    VK_TRY(s->vk.vkEnumeratePhysicalDevices(s->instance, &n, NULL));
    n = n < MAX_DEVICES ? n : MAX_DEVICES;
    VkResult r = s->vk.vkEnumeratePhysicalDevices(s->instance, &n, devices);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE)
        VK_TRY(r);
    if (n == 0)
        return ponder_set_error(err, PONDER_ERR_UNSUPPORTED,
                                "no suitable Vulkan device (none found)");
    int32_t want = requested_device(requested);
    int best_rank = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (want >= 0 && (uint32_t)want != i)
            continue;
        uint32_t family = 0;
        int rank = device_rank(s, devices[i], &family);
        if (rank >= 0 && (best_rank < 0 || rank < best_rank)) {
            best_rank = rank;
            s->physical = devices[i];
            s->queue_family = family;
        }
    }
    if (want >= (int32_t)n)
        return ponder_set_error(err, PONDER_ERR_INVALID,
                                "Vulkan device %d was chosen, but there are %u", want, n);
    if (best_rank < 0)
        return ponder_set_error(
            err, PONDER_ERR_UNSUPPORTED,
            want >= 0
                ? "no suitable Vulkan device (device %d lacks Vulkan 1.1 or a compute queue)"
                : "no suitable Vulkan device (%d found; none has Vulkan 1.1 and a compute queue)",
            want >= 0 ? want : (int32_t)n);
    s->vk.vkGetPhysicalDeviceProperties(s->physical, &s->props);
    s->vk.vkGetPhysicalDeviceMemoryProperties(s->physical, &s->mem_props);
    if (s->props.limits.minStorageBufferOffsetAlignment > VK_ALIGN)
        return ponder_set_error(
            err, PONDER_ERR_UNSUPPORTED, "%s aligns storage buffers to %llu bytes (above %d)",
            s->props.deviceName,
            (unsigned long long)s->props.limits.minStorageBufferOffsetAlignment, VK_ALIGN);
    return PONDER_OK;
}

static PonderStatus create_device(VkState *s, PonderError *err)
{
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = s->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkDeviceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue,
    };
    VK_TRY(s->vk.vkCreateDevice(s->physical, &info, NULL, &s->device));
#define VK_LOAD_DEVICE(name)                                                                       \
    if (!(s->vk.name = (PFN_##name)s->vk.vkGetDeviceProcAddr(s->device, #name)))                   \
        return missing_function(err, #name);
    VK_DEVICE_FUNCS(VK_LOAD_DEVICE)
#undef VK_LOAD_DEVICE
    s->vk.vkGetDeviceQueue(s->device, s->queue_family, 0, &s->queue);

    VkCommandPoolCreateInfo pool = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = s->queue_family,
    };
    VK_TRY(s->vk.vkCreateCommandPool(s->device, &pool, NULL, &s->cmd_pool));
    VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_TRY(s->vk.vkCreateFence(s->device, &fence, NULL, &s->fence));
    return PONDER_OK;
}

PonderStatus vk_open_device(VkState *s, int32_t requested, PonderError *err)
{
    VK_RETURN_IF_FAILED(open_loader(s, err));
    VK_RETURN_IF_FAILED(create_instance(s, err));
    VK_RETURN_IF_FAILED(choose_device(s, requested, err));
    return create_device(s, err);
}

void vk_close_device(VkState *s)
{
    if (s->device) {
        if (s->fence)
            s->vk.vkDestroyFence(s->device, s->fence, NULL);
        if (s->cmd_pool)
            s->vk.vkDestroyCommandPool(s->device, s->cmd_pool, NULL);
        s->vk.vkDestroyDevice(s->device, NULL);
    }
    if (s->instance)
        s->vk.vkDestroyInstance(s->instance, NULL);
    if (s->loader)
        dlclose(s->loader);
    s->device = NULL;
    s->instance = NULL;
    s->loader = NULL;
}
