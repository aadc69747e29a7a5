/* The class map `lvit predict` writes for a pixel classifier or a segmentation: -o MAP.tif (a
 * GeoTIFF of the classes' label values, georeferenced like the input, and MAP.png beside it) or
 * -o MAP.png (the labels beside the prediction where the data has them, else the prediction). */
#ifndef LVIT_CLASS_MAP_OUT_H
#define LVIT_CLASS_MAP_OUT_H
#include <stddef.h>
#include <stdint.h>
#include "tasks/image_run.h"
#include "tasks/jobs.h"

/* 1 for MAP.tif / MAP.tiff, 0 for MAP.png; a user error for anything else or no -o. */
int class_map_kind(const PredictOptions *o);
/* Writes pred [H*W], the classes of image img of r's data (K of them, named by names), as o->out
 * says; png receives the PNG's path. */
void class_map_write(const ImageRun *r, const PredictOptions *o, int img, const int32_t *pred, int K,
                     const char *const *names, char *png, size_t pnglen);
#endif
