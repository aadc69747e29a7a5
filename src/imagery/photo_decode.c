/* JPEG (libjpeg) and PNG (libpng) images into float bands [V,H,W]: grey is one band, colour
 * three (red, green, blue); 16-bit PNG keeps its 16 bits; a PNG alpha channel becomes the
 * validity mask (alpha 0 = no data) instead of a band. Errors name the file, never exit. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <png.h>
#include "core/check.h"
#include "imagery/imagery.h"

typedef struct JpegErr {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} JpegErr;

static void jpeg_fail(j_common_ptr c) {
    JpegErr *e = (JpegErr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}

/* counts warnings (a truncated file is one) without printing them */
static void jpeg_quiet(j_common_ptr c, int level) {
    if (level < 0) c->err->num_warnings++;
}

static int read_jpeg(FILE *f, const char *path, int *V, int *H, int *W, float **pix, uint8_t **ok, char *err,
                     size_t errlen) {
    struct jpeg_decompress_struct d;
    JpegErr e;
    unsigned char *volatile row = NULL;
    float *volatile out = NULL;
    d.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jpeg_fail;
    e.mgr.emit_message = jpeg_quiet;
    if (setjmp(e.jb)) {
        snprintf(err, errlen, "%s: not a readable JPEG: %s", path, e.msg);
        jpeg_destroy_decompress(&d);
        free(row);
        free(out);
        return -1;
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    if (d.num_components != 1) d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    const int c = d.output_components, h = (int)d.output_height, w = (int)d.output_width;
    out = xmalloc(sizeof(float) * (size_t)c * h * w);
    row = xmalloc((size_t)c * w);
    while (d.output_scanline < d.output_height) {
        int r = (int)d.output_scanline;
        JSAMPROW rp = row;
        jpeg_read_scanlines(&d, &rp, 1);
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) out[((size_t)k * h + r) * w + x] = row[x * c + k];
    }
    /* libjpeg fills a truncated file with grey and only warns: refuse it instead */
    if (e.mgr.num_warnings) {
        char m[JMSG_LENGTH_MAX];
        e.mgr.format_message((j_common_ptr)&d, m);
        snprintf(err, errlen, "%s: damaged or truncated JPEG (%s)", path, m);
        jpeg_destroy_decompress(&d);
        free(row);
        free(out);
        return -1;
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    free(row);
    *V = c, *H = h, *W = w;
    *pix = out;
    *ok = xmalloc((size_t)c * h * w);
    memset(*ok, 1, (size_t)c * h * w);
    return 0;
}

static void png_fail(png_structp p, png_const_charp msg) {
    snprintf((char *)png_get_error_ptr(p), 256, "%s", msg);
    png_longjmp(p, 1);
}

static void png_quiet(png_structp p, png_const_charp msg) { (void)p, (void)msg; }

static int read_pngf(FILE *f, const char *path, int *V, int *H, int *W, float **pix, uint8_t **ok, char *err,
                     size_t errlen) {
    char msg[256] = "";
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, msg, png_fail, png_quiet);
    png_infop info = png_create_info_struct(p);
    png_bytep volatile buf = NULL;
    png_bytepp volatile rows = NULL;
    if (setjmp(png_jmpbuf(p))) {
        snprintf(err, errlen, "%s: not a readable PNG: %s", path, msg);
        png_destroy_read_struct(&p, &info, NULL);
        free(buf);
        free(rows);
        return -1;
    }
    png_init_io(p, f);
    png_read_info(p, info);
    png_set_palette_to_rgb(p);
    png_set_expand_gray_1_2_4_to_8(p);
    png_set_tRNS_to_alpha(p);
    if (png_get_bit_depth(p, info) == 16) png_set_swap(p); /* host order (little-endian) */
    png_read_update_info(p, info);
    const int h = (int)png_get_image_height(p, info), w = (int)png_get_image_width(p, info);
    const int ch = png_get_channels(p, info), depth = png_get_bit_depth(p, info);
    const int alpha = ch == 2 || ch == 4, c = ch - alpha, bps = depth == 16 ? 2 : 1;
    const size_t rb = png_get_rowbytes(p, info);
    buf = xmalloc(rb * (size_t)h);
    rows = xmalloc(sizeof(png_bytep) * (size_t)h);
    for (int r = 0; r < h; r++) rows[r] = buf + rb * (size_t)r;
    png_read_image(p, rows);
    png_read_end(p, NULL);
    float *out = xmalloc(sizeof(float) * (size_t)c * h * w);
    uint8_t *m = xmalloc((size_t)c * h * w);
    for (int r = 0; r < h; r++)
        for (int x = 0; x < w; x++) {
            const png_bytep px = rows[r] + (size_t)x * ch * bps;
            float a = 1;
            if (alpha) a = bps == 2 ? ((const uint16_t *)px)[c] : px[c];
            for (int k = 0; k < c; k++) {
                size_t at = ((size_t)k * h + r) * w + x;
                float val = bps == 2 ? ((const uint16_t *)px)[k] : px[k];
                m[at] = a != 0;
                out[at] = a != 0 ? val : 0.0f;
            }
        }
    png_destroy_read_struct(&p, &info, NULL);
    free(buf);
    free(rows);
    *V = c, *H = h, *W = w;
    *pix = out;
    *ok = m;
    return 0;
}

int read_photo(const char *path, int *V, int *H, int *W, float **pix, uint8_t **ok, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open the image", path);
        return -1;
    }
    unsigned char sig[8] = {0};
    size_t n = fread(sig, 1, 8, f);
    rewind(f);
    int rc;
    if (n >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) {
        rc = read_jpeg(f, path, V, H, W, pix, ok, err, errlen);
    } else if (n == 8 && png_sig_cmp(sig, 0, 8) == 0) {
        rc = read_pngf(f, path, V, H, W, pix, ok, err, errlen);
    } else {
        snprintf(err, errlen, "%s: neither a JPEG nor a PNG image", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}
