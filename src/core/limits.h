/* Sizes shared by the data layer and the model, kept below both so neither includes the other:
 * how many variables a dataset or model may have, and the bytes of a variable's name. */
#ifndef LVIT_LIMITS_H
#define LVIT_LIMITS_H

#define LVIT_MAX_VARS 4096
#define LVIT_VAR_NAME 64

#endif
