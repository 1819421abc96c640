// The KV cache of one layer, [n_seq][n_ctx][n_head_kv * head_dim] elements, as fp16
// pairs packed in 32-bit words (KV_F16) or floats: the including shader declares the
// buffers as `uint k_cache[], v_cache[]` (KV_F16) or `float k_cache[], v_cache[]`.
// Row offsets are in elements and even (head_dim is).

#if defined(KV_F16)
#define KV_ELEM uint
vec2 kv_pair(uint word)
{
    return unpackHalf2x16(word);
}
#define K_PAIR(i) kv_pair(k_cache[(i) >> 1])
#define V_PAIR(i) kv_pair(v_cache[(i) >> 1])
#define STORE_K_PAIR(i, a, b) k_cache[(i) >> 1] = packHalf2x16(vec2(a, b))
#define STORE_V_PAIR(i, a, b) v_cache[(i) >> 1] = packHalf2x16(vec2(a, b))
#else
#define KV_ELEM float
#define K_PAIR(i) vec2(k_cache[i], k_cache[(i) + 1u])
#define V_PAIR(i) vec2(v_cache[i], v_cache[(i) + 1u])
#define STORE_K_PAIR(i, a, b) k_cache[i] = (a), k_cache[(i) + 1u] = (b)
#define STORE_V_PAIR(i, a, b) v_cache[i] = (a), v_cache[(i) + 1u] = (b)
#endif
