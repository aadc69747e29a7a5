/* Pixel classification on the user's own split (docs/classification.md, "Your own split"): a training
 * and a test label raster over the scene (the way the disjoint Indian Pines split is distributed, as
 * TR and TE maps in .mat files), each "FILE" or "FILE:VAR" (a .mat variable), read through the
 * TaskOptions' reader; 0 (or no data) = unlabelled, the other values those of the dataset's classes.
 * Both must be the image's size, and no pixel may be labelled in both. Or one mask raster (--split-mask: 1 =
 * training, 2 = test, 0 = unused) over the classes of the dataset's own label raster. */
#ifndef LVIT_LABEL_SPLIT_H
#define LVIT_LABEL_SPLIT_H
#include <stddef.h>
#include <stdint.h>
#include "data/dataset.h"
#include "tasks/task.h"

/* Both rasters of o->train_labels and o->test_labels (or the split of o->split_mask) as class maps [H*W] of ds (-1 = unlabelled),
 * malloc'd: 0, or -1 with err naming the flag, the file and what is wrong (either missing, a size
 * other than the image's, a label that is no class, pixels labelled in both, a raster with none). */
int label_split_maps(const Dataset *ds, const TaskOptions *o, int32_t **train, int32_t **test, char *err, size_t errlen);
/* One raster's class map (flag names the option in messages). */
int label_split_read(const Dataset *ds, LabelRasterRead rd, const char *flag, const char *spec, int32_t **map,
                     char *err, size_t errlen);
/* The label value of each of ds's C classes (its metadata's labels.classes[].value) into v [C]. */
int label_split_class_values(const Dataset *ds, double *v, char *err, size_t errlen);
/* The split's rasters, absolute, for the run's record: src[0] the training raster and src[1] the test raster,
 * or src[0] the split mask and src[1] NULL (malloc'd); hash: their files' content hashes ("" for none). */
void label_split_sources(const TaskOptions *o, char *src[2], char hash[2][17]);
/* The geotransform and CRS (malloc'd WKT, NULL when none) of ds's image img from its metadata: 0, or -1
 * when it has none. */
int label_split_image_georef(const Dataset *ds, int img, double geo[6], char **wkt);
/* spec with its file made absolute (malloc'd), so that lvit eval finds it from anywhere. */
char *label_split_absolute(const char *spec);

#endif
