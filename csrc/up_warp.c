/*
 * Warp: a camera frame to the model's input tensor by OpenCV's bilinear
 * warpAffine / warpPerspective of an axis-keeping transform (MediaPipe's
 * letterbox for BlazeFace), byte for byte. The source positions come from the
 * host (see the header); this file only blends and writes.
 */
#include "ultrapost.h"

#define WARP_ONE ((int32_t)1 << UP_WARP_FRAC_BITS) /* 32: INTER_TAB_SIZE */
#define WARP_MASK (WARP_ONE - 1)
#define WARP_COEF_BITS 15 /* OpenCV's INTER_REMAP_COEF_BITS */
#define WARP_MAP_MIN (-32768) /* OpenCV keeps map columns and rows in 16 bits */
#define WARP_MAP_MAX 32767

static int32_t warp_bytes_per_pixel(uint8_t format)
{
    switch (format) {
    case UP_PIX_RGB888:
    case UP_PIX_BGR888: return 3;
    case UP_PIX_RGBA8888: return 4;
    case UP_PIX_GRAY8: return 1;
    default: return 0; /* RGB565 / YUYV: convert first (up_pre_run reads them) */
    }
}

static int32_t warp_channels(uint8_t format) { return format == UP_PIX_GRAY8 ? 1 : 3; }

/* Whole part (floor) of a position in 1/32 pixel; exact division, so no shift of a negative value. */
static inline int32_t warp_whole(int32_t pos) { return (pos - (pos & WARP_MASK)) / WARP_ONE; }

static bool warp_positions_ok(const int32_t *pos, size_t count)
{
    const int32_t lo = WARP_MAP_MIN * WARP_ONE, hi = WARP_MAP_MAX * WARP_ONE + WARP_MASK;
    for (size_t i = 0; i < count; i++)
        if (pos[i] < lo || pos[i] > hi) return false;
    return true;
}

/* Everything but the positions: what a run relies on to stay inside its buffers (any position is safe to read
 * around; the range check is OpenCV's 16-bit map, done once by up_warp_check_config). */
static int32_t warp_check_shape(const up_warp_config_t *cfg)
{
    if (cfg == NULL || cfg->x_pos == NULL || cfg->y_pos == NULL) return UP_ERR_NULL;
    if (warp_bytes_per_pixel(cfg->pixel_format) == 0 || cfg->layout > UP_LAYOUT_NCHW) return UP_ERR_CONFIG;
    if (cfg->out_bytes == 1) {
        if (cfg->lut8 == NULL) return UP_ERR_NULL;
    } else if (cfg->out_bytes == 4) {
        if (cfg->lut32 == NULL) return UP_ERR_NULL;
    } else {
        return UP_ERR_CONFIG;
    }
    if (cfg->frame_width < 1 || cfg->frame_height < 1 || cfg->frame_width > UP_WARP_MAX_DIM ||
        cfg->frame_height > UP_WARP_MAX_DIM)
        return UP_ERR_CONFIG;
    const int32_t ow = cfg->out_width, oh = cfg->out_height;
    if (ow < 1 || oh < 1 || ow > UP_WARP_MAX_DIM || oh > UP_WARP_MAX_DIM) return UP_ERR_CONFIG;
    const int32_t n = warp_channels(cfg->pixel_format);
    for (int32_t c = 0; c < 3; c++)
        if (cfg->channel_map[c] >= n) return UP_ERR_CONFIG;
    return UP_OK;
}

int32_t up_warp_check_config(const up_warp_config_t *cfg)
{
    const int32_t status = warp_check_shape(cfg);
    if (status != UP_OK) return status;
    const size_t ow = (size_t)cfg->out_width, oh = (size_t)cfg->out_height;
    const size_t nx = cfg->per_pixel ? ow * oh : ow, ny = cfg->per_pixel ? ow * oh : oh;
    if (!warp_positions_ok(cfg->x_pos, nx) || !warp_positions_ok(cfg->y_pos, ny)) return UP_ERR_CONFIG;
    return UP_OK;
}

size_t up_warp_scratch_size(const up_warp_config_t *cfg)
{
    if (up_warp_check_config(cfg) != UP_OK) return 0;
    return (size_t)cfg->out_width * (size_t)warp_channels(cfg->pixel_format);
}

/* One source value, or the border value outside the frame. */
static inline int32_t warp_at(const uint8_t *frame, int32_t stride, int32_t bpp, int32_t w, int32_t h, int32_t x,
                              int32_t y, int32_t c, int32_t border)
{
    if (x < 0 || y < 0 || x >= w || y >= h) return border;
    return frame[(size_t)y * (size_t)stride + (size_t)x * (size_t)bpp + (size_t)c];
}

/* OpenCV's BilinearTab_i entry (fy, fx): products of the 1-D weights (Q5 each) times 32, i.e. Q15. The all-zero
 * fraction's 32768 saturates to 32767 as a short and the table's sum fix-up adds 1 to the last weight. */
static inline void warp_weights(int32_t fx, int32_t fy, int32_t *k)
{
    k[0] = (WARP_ONE - fx) * (WARP_ONE - fy) * WARP_ONE;
    k[1] = fx * (WARP_ONE - fy) * WARP_ONE;
    k[2] = (WARP_ONE - fx) * fy * WARP_ONE;
    k[3] = fx * fy * WARP_ONE;
    if (fx == 0 && fy == 0) {
        k[0] = 32767;
        k[3] = 1;
    }
}

#define WARP_HALF ((int32_t)1 << (WARP_COEF_BITS - 1))

/* One output pixel at source block (sx, sy) with weights k: n values into d. */
static void warp_pixel(const up_warp_config_t *cfg, const uint8_t *frame, int32_t stride, int32_t sx, int32_t sy,
                       const int32_t *k, uint8_t *d)
{
    const int32_t w = cfg->frame_width, h = cfg->frame_height, border = cfg->border_value;
    const int32_t bpp = warp_bytes_per_pixel(cfg->pixel_format), n = warp_channels(cfg->pixel_format);
    if (sx >= w || sx < -1 || sy >= h || sy < -1) { /* the 2x2 block wholly outside */
        for (int32_t c = 0; c < n; c++) d[c] = (uint8_t)border;
        return;
    }
    if (sx >= 0 && sy >= 0 && sx < w - 1 && sy < h - 1) {
        const uint8_t *p0 = frame + (size_t)sy * (size_t)stride + (size_t)sx * (size_t)bpp;
        const uint8_t *p1 = p0 + stride;
        for (int32_t c = 0; c < n; c++) {
            int32_t acc = p0[c] * k[0] + p0[bpp + c] * k[1] + p1[c] * k[2] + p1[bpp + c] * k[3];
            d[c] = (uint8_t)((acc + WARP_HALF) >> WARP_COEF_BITS);
        }
        return;
    }
    for (int32_t c = 0; c < n; c++) { /* partly outside: those neighbours read the border value */
        int32_t acc = warp_at(frame, stride, bpp, w, h, sx, sy, c, border) * k[0] +
                      warp_at(frame, stride, bpp, w, h, sx + 1, sy, c, border) * k[1] +
                      warp_at(frame, stride, bpp, w, h, sx, sy + 1, c, border) * k[2] +
                      warp_at(frame, stride, bpp, w, h, sx + 1, sy + 1, c, border) * k[3];
        d[c] = (uint8_t)((acc + WARP_HALF) >> WARP_COEF_BITS);
    }
}

/* Output row y of the warp: n values per pixel into vals. Per-axis positions take the row's source rows once and
 * a three-channel fast path for blocks inside the frame; the result is warp_pixel's either way. */
static void warp_row(const up_warp_config_t *cfg, const uint8_t *frame, int32_t stride, int32_t y, uint8_t *vals)
{
    const int32_t w = cfg->frame_width, h = cfg->frame_height, ow = cfg->out_width;
    const int32_t n = warp_channels(cfg->pixel_format), bpp = warp_bytes_per_pixel(cfg->pixel_format);
    int32_t k[4];
    if (cfg->per_pixel) {
        const int32_t *xs = cfg->x_pos + (size_t)y * (size_t)ow, *ys = cfg->y_pos + (size_t)y * (size_t)ow;
        for (int32_t x = 0; x < ow; x++) {
            warp_weights(xs[x] & WARP_MASK, ys[x] & WARP_MASK, k);
            warp_pixel(cfg, frame, stride, warp_whole(xs[x]), warp_whole(ys[x]), k, vals + (size_t)x * (size_t)n);
        }
        return;
    }
    const int32_t py = cfg->y_pos[y], fy = py & WARP_MASK, sy = warp_whole(py);
    const bool rows_inside = sy >= 0 && sy < h - 1;
    const uint8_t *r0 = frame + (size_t)(rows_inside ? sy : 0) * (size_t)stride;
    const uint8_t *r1 = rows_inside ? r0 + stride : r0;
    for (int32_t x = 0; x < ow; x++) {
        const int32_t px = cfg->x_pos[x], sx = warp_whole(px);
        uint8_t *d = vals + (size_t)x * (size_t)n;
        warp_weights(px & WARP_MASK, fy, k);
        if (rows_inside && n == 3 && sx >= 0 && sx < w - 1) {
            const uint8_t *p0 = r0 + (size_t)sx * (size_t)bpp, *p1 = r1 + (size_t)sx * (size_t)bpp;
            d[0] = (uint8_t)((p0[0] * k[0] + p0[bpp] * k[1] + p1[0] * k[2] + p1[bpp] * k[3] + WARP_HALF) >> WARP_COEF_BITS);
            d[1] = (uint8_t)((p0[1] * k[0] + p0[bpp + 1] * k[1] + p1[1] * k[2] + p1[bpp + 1] * k[3] + WARP_HALF) >>
                             WARP_COEF_BITS);
            d[2] = (uint8_t)((p0[2] * k[0] + p0[bpp + 2] * k[1] + p1[2] * k[2] + p1[bpp + 2] * k[3] + WARP_HALF) >>
                             WARP_COEF_BITS);
        } else {
            warp_pixel(cfg, frame, stride, sx, sy, k, d);
        }
    }
}

/* Writes output row y through the per-channel tables, in the config's layout. */
static void warp_write_row(const up_warp_config_t *cfg, int32_t y, const uint8_t *vals, void *out)
{
    const int32_t w = cfg->out_width, h = cfg->out_height, n = warp_channels(cfg->pixel_format);
    const bool nchw = cfg->layout == UP_LAYOUT_NCHW;
    for (int32_t c = 0; c < 3; c++) {
        const int32_t m = cfg->channel_map[c];
        /* element (y, x, c) at base + x * step */
        const size_t base = nchw ? ((size_t)c * (size_t)h + (size_t)y) * (size_t)w : (size_t)y * (size_t)w * 3u + (size_t)c;
        const size_t step = nchw ? 1u : 3u;
        if (cfg->out_bytes == 1) {
            const uint8_t *lut = cfg->lut8 + 256 * c;
            uint8_t *o = (uint8_t *)out + base;
            for (int32_t x = 0; x < w; x++) o[(size_t)x * step] = lut[vals[x * n + m]];
        } else {
            const uint32_t *lut = cfg->lut32 + 256 * c;
            uint32_t *o = (uint32_t *)out + base;
            for (int32_t x = 0; x < w; x++) o[(size_t)x * step] = lut[vals[x * n + m]];
        }
    }
}

int32_t up_warp_run(const up_warp_config_t *cfg, const uint8_t *frame, int32_t width, int32_t height,
                    int32_t stride_bytes, void *scratch, size_t scratch_size, void *out, size_t out_size)
{
    if (cfg == NULL || frame == NULL || scratch == NULL || out == NULL) return UP_ERR_NULL;
    if (width != cfg->frame_width || height != cfg->frame_height) return UP_ERR_FRAME;
    if ((int64_t)stride_bytes < (int64_t)width * warp_bytes_per_pixel(cfg->pixel_format)) return UP_ERR_STRIDE;
    const int32_t status = warp_check_shape(cfg);
    if (status != UP_OK) return status;
    if (scratch_size < (size_t)cfg->out_width * (size_t)warp_channels(cfg->pixel_format)) return UP_ERR_SCRATCH;
    const size_t out_need = (size_t)cfg->out_width * (size_t)cfg->out_height * 3u * cfg->out_bytes;
    if (out_size < out_need || ((uintptr_t)out & (uintptr_t)(cfg->out_bytes - 1u))) return UP_ERR_OUTPUT;
    uint8_t *vals = (uint8_t *)scratch;
    for (int32_t y = 0; y < cfg->out_height; y++) {
        warp_row(cfg, frame, stride_bytes, y, vals);
        warp_write_row(cfg, y, vals, out);
    }
    return UP_OK;
}
