/* Shared by the .cu files of the CUDA backend (never included by C code): error checks that die
 * with the call and CUDA's reason, grid-stride loops and grid sizing. */
#ifndef LVIT_CUDA_COMMON_CUH
#define LVIT_CUDA_COMMON_CUH
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" [[noreturn]] void lvit_die_at(const char *file, int line, int code, const char *fmt, ...);

#define CU(call)                                                                                \
    do {                                                                                        \
        cudaError_t e_ = (call);                                                                \
        if (e_ != cudaSuccess) lvit_die_at(__FILE__, __LINE__, 1, "%s: %s", #call, cudaGetErrorString(e_)); \
    } while (0)
#define LAUNCHED() CU(cudaGetLastError())
#define GRID_STRIDE(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* blocks of `threads` for n elements, capped (grid-stride loops cover the rest) */
static inline unsigned cuda_blocks(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

#endif
