/* Small value syntaxes shared by the command line, the training options and the C API. */
#ifndef LVIT_PARSE_H
#define LVIT_PARSE_H

/* "a,b,c" floats into out (at most n); the count, or -1 on error. */
int parse_float_list(const char *s, float *out, int n);
/* Splits s in place at every sep not escaped by a backslash (a\,b.nc:t=x,u=y is two pieces, the
 * first a,b.nc:t=x: names with commas in a comma list); a doubled backslash is one. Empty
 * pieces are dropped. Up to n pieces into out; returns the count. */
int parse_split_escaped(char *s, char sep, const char **out, int n);
/* "HxW" (e.g. 32x64); 0, or -1 on error. */
int parse_grid(const char *s, int *h, int *w);

#endif
