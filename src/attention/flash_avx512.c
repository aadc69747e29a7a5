/* CPU flash attention for x86-64 with AVX-512 F/BW/DQ/VL (CMakeLists.txt compiles this file
 * with -march=x86-64-v4 -mprefer-vector-width=512: these loops are FMA-bound, and GCC's
 * default 256-bit preference would halve their width); flash_cpu.c calls it only when the
 * CPU reports those features. */
#if defined(__x86_64__) && defined(__AVX512F__)
#define LANES 16
#define FL_FWD attn_fwd_avx512
#define FL_BWD attn_bwd_avx512
#include "attention/flash_impl.h"
#endif
