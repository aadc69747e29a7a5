/* CPU flash attention, the portable build (any CPU; the reference the vector builds are
 * tested against): 4-float vectors, which every 64-bit target has (SSE2, NEON). */
#define LANES 4
#define FL_FWD attn_fwd_generic
#define FL_BWD attn_bwd_generic
#include "attention/flash_impl.h"
