// The IQ codebooks (see quant-iq.h); the numbers come from iq-grids/*.inc, which
// tools/gen-iq-grids.py writes from the format's published tables.
#include "quant-iq.h"

const uint64_t iq2xxs_grid[256] = {
#include "iq-grids/iq2xxs.inc"
};

const uint64_t iq2xs_grid[512] = {
#include "iq-grids/iq2xs.inc"
};

const uint64_t iq2s_grid[1024] = {
#include "iq-grids/iq2s.inc"
};

const uint32_t iq3xxs_grid[256] = {
#include "iq-grids/iq3xxs.inc"
};

const uint32_t iq3s_grid[512] = {
#include "iq-grids/iq3s.inc"
};

const uint64_t iq1s_grid[2048] = {
#include "iq-grids/iq1s.inc"
};

const int8_t kvalues_iq4nl[16] = {
#include "iq-grids/iq4nl.inc"
};

// A short .inc file would leave the end of a table zero: check the last entries.
static_assert(sizeof iq1s_grid / sizeof iq1s_grid[0] == 2048, "iq1s grid");
