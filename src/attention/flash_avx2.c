/* CPU flash attention for x86-64 with AVX2 and FMA (CMakeLists.txt compiles this file with
 * -march=x86-64-v3); flash_cpu.c calls it only when the CPU reports both. */
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#define LANES 8
#define FL_FWD attn_fwd_avx2
#define FL_BWD attn_bwd_avx2
#include "attention/flash_impl.h"
#endif
