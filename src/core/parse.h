/* Small value syntaxes shared by the command line, the training options and the C API. */
#ifndef LVIT_PARSE_H
#define LVIT_PARSE_H

/* "a,b,c" floats into out (at most n); the count, or -1 on error. */
int parse_float_list(const char *s, float *out, int n);
/* "HxW" (e.g. 32x64); 0, or -1 on error. */
int parse_grid(const char *s, int *h, int *w);

#endif
