/* The raster the plots draw on (eval/canvas.h): clipped rectangles, Bresenham lines and 5x7
 * text on an RGB8 image, and its atomic PNG output through libpng. What to draw is eval/plot.c. */
#include "eval/canvas.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int canvas_init(Canvas *c, int w, int h, char *err, size_t errlen) {
    if (w < 1 || h < 1 || (int64_t)w * h > CANVAS_MAX_PIXELS) {
        if (err && errlen) snprintf(err, errlen, "image %dx%d is too large (limit %d pixels)", w, h, CANVAS_MAX_PIXELS);
        return -1;
    }
    c->px = malloc((size_t)w * h * 3);
    if (!c->px) {
        if (err && errlen) snprintf(err, errlen, "out of memory for a %dx%d image", w, h);
        return -1;
    }
    memset(c->px, 255, (size_t)w * h * 3);
    c->w = w, c->h = h;
    c->cx0 = 0, c->cy0 = 0, c->cx1 = w - 1, c->cy1 = h - 1;
    return 0;
}

void canvas_free(Canvas *c) {
    free(c->px);
    c->px = NULL;
}

static void canvas_put(Canvas *c, int x, int y, const unsigned char rgb[3]) {
    if (x < c->cx0 || x > c->cx1 || y < c->cy0 || y > c->cy1) return;
    memcpy(c->px + ((size_t)y * c->w + x) * 3, rgb, 3);
}

void canvas_fill_rect(Canvas *c, int x, int y, int w, int h, const unsigned char rgb[3]) {
    int x0 = x < c->cx0 ? c->cx0 : x, y0 = y < c->cy0 ? c->cy0 : y;
    int x1 = x + w - 1 > c->cx1 ? c->cx1 : x + w - 1, y1 = y + h - 1 > c->cy1 ? c->cy1 : y + h - 1;
    for (int yy = y0; yy <= y1; yy++)
        for (int xx = x0; xx <= x1; xx++) memcpy(c->px + ((size_t)yy * c->w + xx) * 3, rgb, 3);
}

void canvas_rect_outline(Canvas *c, int x, int y, int w, int h, const unsigned char rgb[3]) {
    canvas_fill_rect(c, x, y, w, 1, rgb);
    canvas_fill_rect(c, x, y + h - 1, w, 1, rgb);
    canvas_fill_rect(c, x, y, 1, h, rgb);
    canvas_fill_rect(c, x + w - 1, y, 1, h, rgb);
}

/* Bresenham over all octants; thick > 1 stamps a thick x thick square per point. */
void canvas_line(Canvas *c, int x0, int y0, int x1, int y1, int thick, const unsigned char rgb[3]) {
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int e = dx + dy;
    for (;;) {
        if (thick > 1) canvas_fill_rect(c, x0 - thick / 2, y0 - thick / 2, thick, thick, rgb);
        else canvas_put(c, x0, y0, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

/* ---------------------------------------------------------------- text */

enum { GLYPH_W = 5, GLYPH_H = 7, ADVANCE = 6 };

static int canvas_text_width(const char *s, int scale) {
    size_t n = strlen(s);
    return n ? (int)n * ADVANCE * scale - scale : 0;
}

/* Draws s with its top-left at (x, y); align -1/0/1 puts x at the left/centre/right of the text.
 * Characters outside 32..126 are drawn as '?'. */
void canvas_text(Canvas *c, int x, int y, const char *s, int scale, int align, const unsigned char rgb[3]) {
    if (!s) return;
    int w = canvas_text_width(s, scale);
    x -= align < 0 ? 0 : align == 0 ? w / 2 : w;
    for (; *s; s++, x += ADVANCE * scale) {
        int ch = (unsigned char)*s;
        if (ch < 32 || ch > 126) ch = '?';
        const unsigned char *g = plot_font5x7[ch - 32];
        for (int col = 0; col < GLYPH_W; col++)
            for (int row = 0; row < GLYPH_H; row++)
                if (g[col] >> row & 1) canvas_fill_rect(c, x + col * scale, y + row * scale, scale, scale, rgb);
    }
}

/* Text at scale 2 when it fits in width, else at scale 1 (long titles on narrow maps). */
void canvas_title_text(Canvas *c, int xc, int y, const char *s, int width, const unsigned char rgb[3]) {
    if (!s) return;
    int scale = canvas_text_width(s, 2) <= width ? 2 : 1;
    canvas_text(c, xc, scale == 2 ? y : y + 4, s, scale, 0, rgb);
}

/* ---------------------------------------------------------------- PNG output */

typedef struct PngErr {
    char msg[256];
} PngErr;

static void png_on_error(png_structp png, png_const_charp msg) {
    PngErr *pe = png_get_error_ptr(png);
    snprintf(pe->msg, sizeof pe->msg, "%s", msg);
    png_longjmp(png, 1);
}
static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static int cannot_write(char *err, size_t errlen, const char *path, const char *why) {
    if (err && errlen) snprintf(err, errlen, "cannot write '%s': %s", path, why);
    return -1;
}

int canvas_write_png(const char *path, const Canvas *c, char *err, size_t errlen) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        return cannot_write(err, errlen, path, "path too long");
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        return cannot_write(err, errlen, path, strerror(errno));
    }
    PngErr pe = {{0}};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &pe, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        remove(tmp);
        return cannot_write(err, errlen, path, "libpng initialisation failed");
    }
    /* png and info are not modified after setjmp, so they need not be volatile. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        remove(tmp);
        char why[300];
        snprintf(why, sizeof why, "libpng: %s", pe.msg);
        return cannot_write(err, errlen, path, why);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < c->h; y++) png_write_row(png, c->px + (size_t)y * c->w * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    /* A full disk often shows only at flush time, so both ferror and fclose are checked; the fsync
     * puts the bytes on disk before the rename makes them the file. */
    int bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    if (fclose(f) || bad) {
        int e = errno;
        remove(tmp);
        return cannot_write(err, errlen, path, bad ? "write error" : strerror(e));
    }
    if (rename(tmp, path)) {
        int e = errno;
        remove(tmp);
        char why[4200];
        snprintf(why, sizeof why, "rename from '%s' failed: %s", tmp, strerror(e));
        return cannot_write(err, errlen, path, why);
    }
    return 0;
}

