/* A tiny RGB8 raster canvas for the plots: rectangles, Bresenham lines and 5x7 bitmap text, all
 * clipped to a rectangle, written out as PNG through "<path>.tmp.<pid>" and a rename (so a reader
 * never sees half a file). Knows nothing about maps or curves: that is eval/plot.c. */
#ifndef LVIT_CANVAS_H
#define LVIT_CANVAS_H
#include <stddef.h>
#include <stdint.h>

/* Limits an image to ~200 MB of RGB so that a huge grid fails cleanly instead of running out of memory. */
enum { CANVAS_MAX_PIXELS = 1 << 26 };

typedef struct Canvas {
    int w, h;
    unsigned char *px;       /* [h][w][3] */
    int cx0, cy0, cx1, cy1;  /* clip rectangle, inclusive; lines inside the plot area use it */
} Canvas;

/* White image w x h, clip = the whole image. 0, or -1 with err saying why (too large, no memory). */
int canvas_init(Canvas *c, int w, int h, char *err, size_t errlen);
void canvas_free(Canvas *c);
void canvas_fill_rect(Canvas *c, int x, int y, int w, int h, const unsigned char rgb[3]);
void canvas_rect_outline(Canvas *c, int x, int y, int w, int h, const unsigned char rgb[3]);
/* Bresenham over all octants; thick > 1 stamps a thick x thick square per point. */
void canvas_line(Canvas *c, int x0, int y0, int x1, int y1, int thick, const unsigned char rgb[3]);
/* Draws s with its top-left at (x, y); align -1/0/1 puts x at the left/centre/right of the text.
 * Characters outside 32..126 are drawn as '?'. NULL draws nothing. */
void canvas_text(Canvas *c, int x, int y, const char *s, int scale, int align, const unsigned char rgb[3]);
/* Centred at xc, at scale 2 when it fits in width, else at scale 1 (long titles on narrow maps). */
void canvas_title_text(Canvas *c, int xc, int y, const char *s, int width, const unsigned char rgb[3]);
/* Writes c to "<path>.tmp.<pid>", fsyncs it, then renames it over path. 0, or -1 with err =
 * "cannot write '<path>': why" (the temporary removed). */
int canvas_write_png(const char *path, const Canvas *c, char *err, size_t errlen);

/* The embedded font (eval/font.c): 5x7 glyphs for ASCII 32..126, 5 column bytes each, bit 0 = top row. */
extern const unsigned char plot_font5x7[95][5];

#endif
