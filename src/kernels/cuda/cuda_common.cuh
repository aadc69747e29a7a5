/* Shared by the .cu files of the CUDA backend (never included by C code): error checks that die
 * with the call and CUDA's reason, grid-stride loops, grid sizing and the block reduction. */
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

/* Block-wide sum of a double over the NT threads of a block (a multiple of 32, at most 1024),
 * result in thread 0; the order is fixed (bitwise reproducible). Every thread must call it. */
template <int NT> static __device__ double block_sum_d(double x) {
    __shared__ double sh[NT / 32];
    for (int o = 16; o > 0; o >>= 1) x += __shfl_down_sync(0xffffffffu, x, o);
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    __syncthreads(); /* sh may still be read by a previous call */
    if (lane == 0) sh[w] = x;
    __syncthreads();
    if (w == 0) {
        x = lane < NT / 32 ? sh[lane] : 0.0;
        for (int o = 16; o > 0; o >>= 1) x += __shfl_down_sync(0xffffffffu, x, o);
    }
    return x;
}

#endif
