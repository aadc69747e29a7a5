/* The reconstruction engine in float (fftwf): what lvit ptycho runs. */
#include "ptycho/ptycho.h"
#define REAL float
#define CPLX float complex
#define FFTW(x) fftwf_##x
#define SFX(x) x##_f
#define RSQRT sqrtf
#define CONJ conjf
#define CRE crealf
#define RLOG1P log1pf
#define CIM cimagf
#include "ptycho/engine_tmpl.h"
