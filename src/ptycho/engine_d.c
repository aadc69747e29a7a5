/* The reconstruction engine in double (fftw): the reference the float engine is checked against. */
#include "ptycho/ptycho.h"
#define REAL double
#define CPLX double complex
#define FFTW(x) fftw_##x
#define SFX(x) x##_d
#define RSQRT sqrt
#define CONJ conj
#define CRE creal
#define RLOG1P log1p
#define CIM cimag
#include "ptycho/engine_tmpl.h"
