// Byte-level reads that let the shaders take the GGUF block layouts as they are (18-,
// 22-, 34-byte blocks...) from buffers declared as 32-bit words: only core Vulkan 1.0
// features are needed, no 8/16-bit storage.
//
// The including shader declares `uint w[]` (the buffer bytes are read from) first.

// Byte OFF of w, zero-extended.
uint rd8(uint off)
{
    return (w[off >> 2] >> ((off & 3u) << 3)) & 0xffu;
}

// Byte OFF of w, sign-extended (int8 quants).
int rd8s(uint off)
{
    return int(rd8(off) << 24) >> 24;
}

// 16-bit value at the even byte offset OFF.
uint rd16(uint off)
{
    return (w[off >> 2] >> ((off & 2u) << 3)) & 0xffffu;
}

float rd_half(uint off)
{
    return unpackHalf2x16(rd16(off)).x;
}

// Little-endian 32-bit value at the even byte offset OFF (Q5 high bits sit at offset 2).
uint rd32_even(uint off)
{
    return rd16(off) | (rd16(off + 2u) << 16);
}
