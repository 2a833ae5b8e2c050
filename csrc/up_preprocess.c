/*
 * Pre-processing: a camera frame (stride, crop, pixel format) to the model's
 * input tensor, with the resize of a named reference reproduced byte for byte
 * (Pillow bilinear, OpenCV INTER_LINEAR_EXACT, OpenCV INTER_NEAREST_EXACT).
 * The tables come from the host (see the header); this file only applies them.
 */
#include "up_internal.h"

/* The per-value helpers must inline even at -Os (a call per value would double the stage's instruction count);
 * the row functions stay out of line, each with its own registers (inlined into one, -Os spills in the loops). */
#if defined(__GNUC__)
#define PRE_INLINE static inline __attribute__((always_inline))
#else
#define PRE_INLINE static inline
#endif
#define PRE_NOINLINE UP_NOINLINE

up_pre_rounding_t up_pre_rounding(uint8_t resample)
{
    up_pre_rounding_t r = {0, 0, 0, 0, false, true};
    if (resample == UP_RESAMPLE_PIL) {
        r.bias1 = r.bias2 = (int32_t)1 << 21; /* Pillow: PRECISION_BITS = 22, add half */
        r.shift1 = r.shift2 = 22;
        r.clip1 = true;
    } else if (resample == UP_RESAMPLE_CV2) {
        r.bias2 = (int32_t)1 << 15; /* Q8 x Q8 = Q16, rounded half up to 8 bits */
        r.shift2 = 16;
    }
    return r;
}

int32_t up_pre_bytes_per_pixel(uint8_t format)
{
    switch (format) {
    case UP_PIX_RGB888:
    case UP_PIX_BGR888: return 3;
    case UP_PIX_RGBA8888: return 4;
    case UP_PIX_GRAY8: return 1;
    case UP_PIX_RGB565:
    case UP_PIX_YUYV: return 2;
    default: return 0;
    }
}

int32_t up_pre_channels(uint8_t format) { return format == UP_PIX_GRAY8 ? 1 : 3; }

static bool pre_converts(uint8_t format) { return format == UP_PIX_RGB565 || format == UP_PIX_YUYV; }

/* 0..255; one unsigned compare on the common (in range) path of the resize passes */
PRE_INLINE int32_t pre_clip8(int32_t v) { return (uint32_t)v > 255u ? (v < 0 ? 0 : 255) : v; }

/* 0..255 for the colour conversion, whose values leave the range often: a form compilers make branch-free */
PRE_INLINE int32_t pre_clip8_yuv(int32_t v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }

/* Largest sum of |coefficients| over the outputs of one pass (int64: the check's own arithmetic). */
static int64_t pre_max_abs_sum(const int32_t *coeff, int32_t count, int32_t taps)
{
    int64_t best = 0;
    for (int32_t j = 0; j < count; j++) {
        int64_t s = 0;
        for (int32_t t = 0; t < taps; t++) {
            int32_t k = coeff[(size_t)j * (size_t)taps + (size_t)t];
            s += k < 0 ? -(int64_t)k : (int64_t)k;
        }
        if (s > best) best = s;
    }
    return best;
}

static bool pre_starts_ok(const int32_t *start, int32_t count, int32_t limit, bool monotonic)
{
    for (int32_t j = 0; j < count; j++) {
        if (start[j] < 0 || start[j] > limit) return false;
        if (monotonic && j > 0 && start[j] < start[j - 1]) return false;
    }
    return true;
}

int32_t up_pre_check_config(const up_pre_config_t *cfg)
{
    if (cfg == NULL || cfg->x_start == NULL || cfg->x_coeff == NULL || cfg->y_start == NULL ||
        cfg->y_coeff == NULL)
        return UP_ERR_NULL;
    if (up_pre_bytes_per_pixel(cfg->pixel_format) == 0 || cfg->resample > UP_RESAMPLE_NEAREST ||
        cfg->layout > UP_LAYOUT_NCHW)
        return UP_ERR_CONFIG;
    if (cfg->out_bytes == 1) {
        if (cfg->lut8 == NULL) return UP_ERR_NULL;
    } else if (cfg->out_bytes == 4) {
        if (cfg->lut32 == NULL) return UP_ERR_NULL;
    } else {
        return UP_ERR_CONFIG;
    }
    const int32_t fw = cfg->frame_width, fh = cfg->frame_height;
    if (fw < 1 || fh < 1 || fw > UP_PRE_MAX_DIM || fh > UP_PRE_MAX_DIM) return UP_ERR_CONFIG;
    if (cfg->pixel_format == UP_PIX_YUYV && (fw & 1)) return UP_ERR_CONFIG; /* pixels come in pairs */
    if (cfg->crop_x < 0 || cfg->crop_y < 0 || cfg->crop_width < 1 || cfg->crop_height < 1 ||
        cfg->crop_width > fw - cfg->crop_x || cfg->crop_height > fh - cfg->crop_y)
        return UP_ERR_CONFIG;
    const int32_t ow = cfg->out_width, oh = cfg->out_height;
    if (ow < 1 || oh < 1 || ow > UP_PRE_MAX_DIM || oh > UP_PRE_MAX_DIM) return UP_ERR_CONFIG;
    if (cfg->rect_x < 0 || cfg->rect_y < 0 || cfg->rect_width < 1 || cfg->rect_height < 1 ||
        cfg->rect_width > ow - cfg->rect_x || cfg->rect_height > oh - cfg->rect_y)
        return UP_ERR_CONFIG;
    if (cfg->x_taps < 1 || cfg->y_taps < 1 || cfg->x_taps > UP_PRE_MAX_TAPS || cfg->y_taps > UP_PRE_MAX_TAPS ||
        cfg->x_taps > cfg->crop_width || cfg->y_taps > cfg->crop_height)
        return UP_ERR_CONFIG;
    /* Rows must be needed in order: the ring of filtered rows only moves forward. */
    if (!pre_starts_ok(cfg->x_start, cfg->rect_width, cfg->crop_width - cfg->x_taps, false) ||
        !pre_starts_ok(cfg->y_start, cfg->rect_height, cfg->crop_height - cfg->y_taps, true))
        return UP_ERR_CONFIG;
    const int32_t n = up_pre_channels(cfg->pixel_format);
    for (int32_t c = 0; c < 3; c++)
        if (cfg->channel_map[c] >= n) return UP_ERR_CONFIG;
    /* Accumulators stay below 2^31: |bias| + max|value| * sum|k| per pass (the first pass reads 0..255). */
    const up_pre_rounding_t r = up_pre_rounding(cfg->resample);
    const int64_t limit = INT32_MAX;
    const int64_t x_sum = pre_max_abs_sum(cfg->x_coeff, cfg->rect_width, cfg->x_taps);
    const int64_t y_sum = pre_max_abs_sum(cfg->y_coeff, cfg->rect_height, cfg->y_taps);
    int64_t first = 255 * (cfg->v_first ? y_sum : x_sum) + r.bias1;
    if (first > limit) return UP_ERR_CONFIG;
    if (r.clip1) first = 255;
    if (first * (cfg->v_first ? x_sum : y_sum) + r.bias2 > limit) return UP_ERR_CONFIG;
    return UP_OK;
}

/* Largest row sum of a pass's coefficients, or -1 when one is negative. */
static int64_t pre_max_sum(const int32_t *coeff, int32_t count, int32_t taps)
{
    int64_t best = 0;
    for (int32_t j = 0; j < count; j++, coeff += taps) {
        int64_t sum = 0;
        for (int32_t t = 0; t < taps; t++) {
            if (coeff[t] < 0) return -1;
            sum += coeff[t];
        }
        if (sum > best) best = sum;
    }
    return best;
}

/* Drops the clips that cannot fire: with no negative coefficient no value goes below 0, and a pass whose largest
 * value, (largest input * largest row sum + bias) >> shift, is at most 255 never goes above (bilinear tables
 * sum to one: every reference's clip is such a no-op). The values stay what the clips would give. */
static void pre_settle_clips(const up_pre_config_t *cfg, up_pre_rounding_t *r)
{
    const int64_t sx = pre_max_sum(cfg->x_coeff, cfg->rect_width, cfg->x_taps);
    const int64_t sy = pre_max_sum(cfg->y_coeff, cfg->rect_height, cfg->y_taps);
    const int64_t s1 = cfg->v_first ? sy : sx, s2 = cfg->v_first ? sx : sy;
    if (s1 < 0 || s2 < 0 || r->bias1 < 0 || r->bias2 < 0) return;
    int64_t m1 = (255 * s1 + r->bias1) >> r->shift1; /* within int32: checked by up_pre_check_config */
    if (r->clip1) {
        if (m1 <= 255) r->clip1 = false;
        else m1 = 255;
    }
    if (((m1 * s2 + r->bias2) >> r->shift2) <= 255) r->clip2 = false;
}

/* Scratch layout, in bytes from the start: ring rows (int32), the vertical accumulator row (int32),
 * the converted crop row (RGB565 / YUYV only), the resized row (uint8). With v_first: the vertical
 * accumulator over the crop width (int32), the converted row, the resized row. */
static size_t pre_row_len(const up_pre_config_t *cfg)
{
    return (size_t)cfg->rect_width * (size_t)up_pre_channels(cfg->pixel_format);
}

size_t up_pre_scratch_size(const up_pre_config_t *cfg)
{
    if (up_pre_check_config(cfg) != UP_OK) return 0;
    size_t len = pre_row_len(cfg);
    size_t conv = pre_converts(cfg->pixel_format) ? (size_t)cfg->crop_width * 3u : 0u;
    if (cfg->v_first) return (size_t)cfg->crop_width * (size_t)up_pre_channels(cfg->pixel_format) * sizeof(int32_t) + conv + len;
    return ((size_t)cfg->y_taps + 1u) * len * sizeof(int32_t) + conv + len;
}

/* OpenCV's integer BT.601 (color_yuv: ITUR_BT_601_*, Q20), one pixel. */
#define UP_YUV_CY 1220542
#define UP_YUV_CUB 2116026
#define UP_YUV_CUG (-409993)
#define UP_YUV_CVG (-852492)
#define UP_YUV_CVR 1673527

PRE_INLINE void pre_yuv_to_rgb(int32_t y, int32_t u, int32_t v, uint8_t *rgb)
{
    const int32_t half = (int32_t)1 << 19;
    int32_t yy = (y > 16 ? y - 16 : 0) * UP_YUV_CY;
    int32_t uu = u - 128, vv = v - 128;
    rgb[0] = (uint8_t)pre_clip8_yuv((yy + half + UP_YUV_CVR * vv) >> 20);
    rgb[1] = (uint8_t)pre_clip8_yuv((yy + half + UP_YUV_CVG * vv + UP_YUV_CUG * uu) >> 20);
    rgb[2] = (uint8_t)pre_clip8_yuv((yy + half + UP_YUV_CUB * uu) >> 20);
}

/* Source row r of the crop as interleaved source channels; *step = bytes between pixels. Converting formats
 * write the crop's pixels to conv (RGB888); the others are read in place. */
const uint8_t *up_pre_read_row(const up_pre_config_t *cfg, const uint8_t *frame, int32_t stride, int32_t r,
                               uint8_t *conv, int32_t *step)
{
    const uint8_t *row = frame + (size_t)(cfg->crop_y + r) * (size_t)stride;
    const int32_t x0 = cfg->crop_x, cw = cfg->crop_width;
    switch (cfg->pixel_format) {
    case UP_PIX_RGB565:
        for (int32_t c = 0; c < cw; c++) {
            const uint8_t *p = row + (size_t)(x0 + c) * 2u;
            uint32_t w = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
            conv[3 * c + 0] = (uint8_t)((w >> 8) & 0xF8u);
            conv[3 * c + 1] = (uint8_t)((w >> 3) & 0xFCu);
            conv[3 * c + 2] = (uint8_t)((w << 3) & 0xF8u);
        }
        *step = 3;
        return conv;
    case UP_PIX_YUYV:
        for (int32_t c = 0; c < cw; c++) {
            int32_t x = x0 + c;
            const uint8_t *pair = row + (size_t)(x & ~1) * 2u; /* Y0 U Y1 V */
            pre_yuv_to_rgb(row[(size_t)x * 2u], pair[1], pair[3], conv + 3 * c);
        }
        *step = 3;
        return conv;
    default:
        *step = up_pre_bytes_per_pixel(cfg->pixel_format);
        return row + (size_t)x0 * (size_t)*step;
    }
}

/* One row of the horizontal first pass for three channels 3 bytes apart (RGB888 and converted rows), with the
 * rounding and tap count as constants at each call site (1..3 taps: the bilinear filters up to a 1.5x shrink). */
PRE_INLINE void pre_hpass3(const int32_t *xs, const int32_t *k, int32_t count, const uint8_t *src, int32_t taps,
                           int32_t bias, int32_t shift, bool clip, int32_t *dst)
{
    for (int32_t j = 0; j < count; j++, k += taps, dst += 3) {
        const uint8_t *p = src + (size_t)xs[j] * 3u;
        const int32_t k0 = k[0];
        int32_t a0 = bias + (int32_t)p[0] * k0, a1 = bias + (int32_t)p[1] * k0, a2 = bias + (int32_t)p[2] * k0;
        if (taps > 1) {
            const int32_t k1 = k[1];
            a0 += (int32_t)p[3] * k1;
            a1 += (int32_t)p[4] * k1;
            a2 += (int32_t)p[5] * k1;
        }
        if (taps > 2) {
            const int32_t k2 = k[2];
            a0 += (int32_t)p[6] * k2;
            a1 += (int32_t)p[7] * k2;
            a2 += (int32_t)p[8] * k2;
        }
        a0 >>= shift;
        a1 >>= shift;
        a2 >>= shift;
        if (clip) {
            a0 = pre_clip8(a0);
            a1 = pre_clip8(a1);
            a2 = pre_clip8(a2);
        }
        dst[0] = a0;
        dst[1] = a1;
        dst[2] = a2;
    }
}

/* Horizontal first pass of one source row (uint8, pixels step bytes apart) into dst[rect_width][n] (int32). */
static PRE_NOINLINE void pre_hpass(const up_pre_config_t *cfg, const up_pre_rounding_t *r, const uint8_t *src,
                                   int32_t step, int32_t n, int32_t *dst)
{
    const int32_t taps = cfg->x_taps, count = cfg->rect_width, bias = r->bias1, shift = r->shift1;
    const bool clip = r->clip1;
    const int32_t *k = cfg->x_coeff;
    const int32_t *xs = cfg->x_start;
    if (n == 3 && step == 3 && taps <= 3 && !clip) {
        /* PIL (Q22) or an exact first pass (CV2, NEAREST: no bias, no shift), its clip dropped */
        const bool pil = bias == ((int32_t)1 << 21) && shift == 22, exact = bias == 0 && shift == 0;
        if (pil && taps == 3) pre_hpass3(xs, k, count, src, 3, (int32_t)1 << 21, 22, false, dst);
        else if (pil && taps == 2) pre_hpass3(xs, k, count, src, 2, (int32_t)1 << 21, 22, false, dst);
        else if (pil) pre_hpass3(xs, k, count, src, 1, (int32_t)1 << 21, 22, false, dst);
        else if (exact && taps == 3) pre_hpass3(xs, k, count, src, 3, 0, 0, false, dst);
        else if (exact && taps == 2) pre_hpass3(xs, k, count, src, 2, 0, 0, false, dst);
        else if (exact) pre_hpass3(xs, k, count, src, 1, 0, 0, false, dst);
        if (pil || exact) return;
    }
    for (int32_t j = 0; j < count; j++, k += taps, dst += n) {
        const uint8_t *p = src + (size_t)xs[j] * (size_t)step;
        if (n == 3) {
            int32_t a0 = bias, a1 = bias, a2 = bias;
            for (int32_t t = 0; t < taps; t++, p += step) {
                a0 += (int32_t)p[0] * k[t];
                a1 += (int32_t)p[1] * k[t];
                a2 += (int32_t)p[2] * k[t];
            }
            a0 >>= shift;
            a1 >>= shift;
            a2 >>= shift;
            dst[0] = clip ? pre_clip8(a0) : a0;
            dst[1] = clip ? pre_clip8(a1) : a1;
            dst[2] = clip ? pre_clip8(a2) : a2;
        } else {
            int32_t a0 = bias;
            for (int32_t t = 0; t < taps; t++, p += step) a0 += (int32_t)p[0] * k[t];
            a0 >>= shift;
            dst[0] = clip ? pre_clip8(a0) : a0;
        }
    }
}

/* Horizontal second pass of one vertically filtered row (int32 [crop_width][n]) into 8-bit values. */
static PRE_NOINLINE void pre_hpass2(const up_pre_config_t *cfg, const up_pre_rounding_t *r, const int32_t *src,
                                    int32_t n, uint8_t *dst)
{
    const int32_t taps = cfg->x_taps, bias = r->bias2, shift = r->shift2;
    const int32_t *k = cfg->x_coeff;
    for (int32_t j = 0; j < cfg->rect_width; j++, k += taps) {
        const int32_t *p = src + (size_t)cfg->x_start[j] * (size_t)n;
        if (n == 3) {
            int32_t a0 = bias, a1 = bias, a2 = bias;
            for (int32_t t = 0; t < taps; t++, p += 3) {
                a0 += p[0] * k[t];
                a1 += p[1] * k[t];
                a2 += p[2] * k[t];
            }
            dst[3 * j] = (uint8_t)pre_clip8(a0 >> shift);
            dst[3 * j + 1] = (uint8_t)pre_clip8(a1 >> shift);
            dst[3 * j + 2] = (uint8_t)pre_clip8(a2 >> shift);
        } else {
            int32_t a0 = bias;
            for (int32_t t = 0; t < taps; t++, p++) a0 += p[0] * k[t];
            dst[j] = (uint8_t)pre_clip8(a0 >> shift);
        }
    }
}

/* Output positions of the three source channels when channel_map is a permutation (then each value goes through
 * one table straight into the tensor); false otherwise (gray, repeated channels). */
static bool pre_positions(const up_pre_config_t *cfg, int32_t *pos)
{
    pos[0] = pos[1] = pos[2] = -1;
    for (int32_t c = 0; c < 3; c++) {
        const int32_t m = cfg->channel_map[c];
        if (m > 2 || pos[m] >= 0) return false;
        pos[m] = c;
    }
    return true;
}

/* One output row from 1 or 2 ring rows (r0, r1: [rect_width][3] int32), each source channel s through its
 * byte table l_s into o_s[x * ostep] (the tensor: NHWC ostep 3, NCHW 1); rounding and taps constant per call. */
PRE_INLINE void pre_emit(const int32_t *r0, const int32_t *r1, int32_t k0, int32_t k1, int32_t count, int32_t taps,
                         int32_t bias, int32_t shift, bool clip, const uint8_t *l0, const uint8_t *l1,
                         const uint8_t *l2, uint8_t *o0, uint8_t *o1, uint8_t *o2, int32_t ostep)
{
    const int32_t end = 3 * count;
    for (int32_t e = 0, x = 0; e < end; e += 3, x += ostep) {
        int32_t v0 = r0[e] * k0 + bias, v1 = r0[e + 1] * k0 + bias, v2 = r0[e + 2] * k0 + bias;
        if (taps > 1) {
            v0 += r1[e] * k1;
            v1 += r1[e + 1] * k1;
            v2 += r1[e + 2] * k1;
        }
        v0 >>= shift;
        v1 >>= shift;
        v2 >>= shift;
        if (clip) {
            v0 = pre_clip8(v0);
            v1 = pre_clip8(v1);
            v2 = pre_clip8(v2);
        }
        o0[x] = l0[v0];
        o1[x] = l1[v1];
        o2[x] = l2[v2];
    }
}

/* pre_emit for channels in the tensor's own order and NHWC: one table base and one pointer (fewer registers, no
 * spills in the loop), no clip. */
PRE_INLINE void pre_emit_rgb(const int32_t *r0, const int32_t *r1, int32_t k0, int32_t k1, int32_t count,
                             int32_t taps, int32_t bias, int32_t shift, const uint8_t *lut, uint8_t *o)
{
    for (const int32_t *end = r0 + 3 * count; r0 < end; r0 += 3, r1 += 3, o += 3) {
        int32_t v0 = r0[0] * k0 + bias, v1 = r0[1] * k0 + bias, v2 = r0[2] * k0 + bias;
        if (taps > 1) {
            v0 += r1[0] * k1;
            v1 += r1[1] * k1;
            v2 += r1[2] * k1;
        }
        o[0] = lut[v0 >> shift];
        o[1] = lut[256 + (v1 >> shift)];
        o[2] = lut[512 + (v2 >> shift)];
    }
}

/* Vertical second pass of output row y (h-first) from 1 or 2 ring rows, three channels that are a permutation of
 * the output's (pos[s]: the output channel of source channel s), through the byte tables straight into the tensor. */
static PRE_NOINLINE void pre_vpass_emit(const up_pre_config_t *cfg, const up_pre_rounding_t *r, const int32_t *r0,
                                        const int32_t *r1, const int32_t *k, int32_t taps, const int32_t *pos,
                                        int32_t y, void *out)
{
    const int32_t bias = r->bias2, shift = r->shift2, k0 = k[0], k1 = taps > 1 ? k[1] : 0;
    const int32_t w = cfg->out_width, count = cfg->rect_width;
    const bool nhwc = cfg->layout == UP_LAYOUT_NHWC;
    /* element (y, x, c) of the rect at o + c * cstep + x * ostep */
    const size_t cstep = nhwc ? 1u : (size_t)w * (size_t)cfg->out_height;
    uint8_t *o = (uint8_t *)out + ((size_t)y * (size_t)w + (size_t)cfg->rect_x) * (nhwc ? 3u : 1u);
    if (nhwc && pos[0] == 0 && pos[1] == 1 && pos[2] == 2 && !r->clip2) {
        const uint8_t *lut = cfg->lut8;
        if (taps == 2 && bias == ((int32_t)1 << 21) && shift == 22) { /* PIL */
            pre_emit_rgb(r0, r1, k0, k1, count, 2, (int32_t)1 << 21, 22, lut, o);
            return;
        }
        if (taps == 2 && bias == ((int32_t)1 << 15) && shift == 16) { /* CV2 */
            pre_emit_rgb(r0, r1, k0, k1, count, 2, (int32_t)1 << 15, 16, lut, o);
            return;
        }
        if (taps == 1 && bias == 0 && shift == 0) { /* NEAREST */
            pre_emit_rgb(r0, r0, k0, 0, count, 1, 0, 0, lut, o);
            return;
        }
    }
    const uint8_t *l0 = cfg->lut8 + 256 * pos[0], *l1 = cfg->lut8 + 256 * pos[1], *l2 = cfg->lut8 + 256 * pos[2];
    uint8_t *o0 = o + cstep * (size_t)pos[0], *o1 = o + cstep * (size_t)pos[1], *o2 = o + cstep * (size_t)pos[2];
    pre_emit(r0, taps > 1 ? r1 : r0, k0, k1, count, 2, bias, shift, r->clip2, l0, l1, l2, o0, o1, o2,
             nhwc ? 3 : 1);
}

/* Vertical second pass: taps ring rows (slot of crop row y0 + t is (y0 + t) % taps) into 8-bit values. */
static PRE_NOINLINE void pre_vpass(const up_pre_rounding_t *r, const int32_t *ring, int32_t taps, int32_t y0,
                                   const int32_t *k, size_t len, int32_t *acc, uint8_t *dst)
{
    for (size_t e = 0; e < len; e++) acc[e] = r->bias2;
    for (int32_t t = 0; t < taps; t++) {
        const int32_t *row = ring + (size_t)((y0 + t) % taps) * len;
        const int32_t kt = k[t];
        if (kt == 0) continue;
        for (size_t e = 0; e < len; e++) acc[e] += row[e] * kt;
    }
    for (size_t e = 0; e < len; e++) dst[e] = (uint8_t)pre_clip8(acc[e] >> r->shift2);
}

/* Vertical first pass for output row i: y_taps source rows into acc[crop_width][n] (int32, first rounding). */
static PRE_NOINLINE void pre_vpass1(const up_pre_config_t *cfg, const up_pre_rounding_t *r, const uint8_t *frame,
                                    int32_t stride, int32_t i, int32_t n, int32_t *acc, uint8_t *conv)
{
    const size_t wide = (size_t)cfg->crop_width * (size_t)n;
    const int32_t y0 = cfg->y_start[i];
    const int32_t *k = cfg->y_coeff + (size_t)i * (size_t)cfg->y_taps;
    for (size_t e = 0; e < wide; e++) acc[e] = r->bias1;
    for (int32_t t = 0; t < cfg->y_taps; t++) {
        const int32_t kt = k[t];
        if (kt == 0) continue;
        int32_t step;
        const uint8_t *src = up_pre_read_row(cfg, frame, stride, y0 + t, conv, &step);
        if (step == n) { /* packed: one flat loop the compiler vectorizes */
            for (size_t e = 0; e < wide; e++) acc[e] += (int32_t)src[e] * kt;
        } else {
            for (int32_t c = 0; c < cfg->crop_width; c++)
                for (int32_t ch = 0; ch < n; ch++) acc[c * n + ch] += (int32_t)src[c * step + ch] * kt;
        }
    }
    for (size_t e = 0; e < wide; e++) {
        int32_t v = acc[e] >> r->shift1;
        acc[e] = r->clip1 ? pre_clip8(v) : v;
    }
}

/* Writes output row y: pad_value through the tables outside columns [x_lo, x_hi); inside, vals ([rect_width][n])
 * through the tables, or nothing when vals is NULL (written already). A pad row: x_lo = x_hi = out_width. */
static PRE_NOINLINE void pre_write_cols(const up_pre_config_t *cfg, int32_t y, int32_t x_lo, int32_t x_hi,
                                       const uint8_t *vals, int32_t n, void *out)
{
    const int32_t w = cfg->out_width, h = cfg->out_height;
    const bool nchw = cfg->layout == UP_LAYOUT_NCHW;
    const size_t step = nchw ? 1u : 3u;
    for (int32_t c = 0; c < 3; c++) {
        const int32_t m = cfg->channel_map[c];
        /* element (y, x, c) at base + x * step */
        const size_t base = nchw ? ((size_t)c * (size_t)h + (size_t)y) * (size_t)w : (size_t)y * (size_t)w * 3u + (size_t)c;
        const uint8_t *v = vals ? vals + m : NULL;
        if (cfg->out_bytes == 1) {
            const uint8_t *lut = cfg->lut8 + 256 * c;
            uint8_t *o = (uint8_t *)out + base;
            const uint8_t pad = lut[cfg->pad_value];
            for (int32_t x = 0; x < x_lo; x++) o[(size_t)x * step] = pad;
            if (v)
                for (int32_t x = x_lo; x < x_hi; x++, v += n) o[(size_t)x * step] = lut[*v];
            for (int32_t x = x_hi; x < w; x++) o[(size_t)x * step] = pad;
        } else {
            const uint32_t *lut = cfg->lut32 + 256 * c;
            uint32_t *o = (uint32_t *)out + base;
            const uint32_t pad = lut[cfg->pad_value];
            for (int32_t x = 0; x < x_lo; x++) o[(size_t)x * step] = pad;
            if (v)
                for (int32_t x = x_lo; x < x_hi; x++, v += n) o[(size_t)x * step] = lut[*v];
            for (int32_t x = x_hi; x < w; x++) o[(size_t)x * step] = pad;
        }
    }
}

void up_pre_write_row(const up_pre_config_t *cfg, int32_t y, const uint8_t *vals, int32_t n, void *out)
{
    const int32_t w = cfg->out_width;
    pre_write_cols(cfg, y, vals ? cfg->rect_x : w, vals ? cfg->rect_x + cfg->rect_width : w, vals, n, out);
}

int32_t up_pre_run(const up_pre_config_t *cfg, const uint8_t *frame, int32_t width, int32_t height,
                   int32_t stride_bytes, void *scratch, size_t scratch_size, void *out, size_t out_size)
{
    if (cfg == NULL || frame == NULL || scratch == NULL || out == NULL) return UP_ERR_NULL;
    if (width != cfg->frame_width || height != cfg->frame_height) return UP_ERR_FRAME;
    if ((int64_t)stride_bytes < (int64_t)width * up_pre_bytes_per_pixel(cfg->pixel_format)) return UP_ERR_STRIDE;
    const size_t need = up_pre_scratch_size(cfg);
    if (need == 0) return UP_ERR_CONFIG;
    if (scratch_size < need || ((uintptr_t)scratch & 3u)) return UP_ERR_SCRATCH;
    const size_t out_need = (size_t)cfg->out_width * (size_t)cfg->out_height * 3u * cfg->out_bytes;
    if (out_size < out_need || ((uintptr_t)out & (uintptr_t)(cfg->out_bytes - 1u))) return UP_ERR_OUTPUT;

    up_pre_rounding_t r = up_pre_rounding(cfg->resample);
    pre_settle_clips(cfg, &r);
    const int32_t n = up_pre_channels(cfg->pixel_format), taps = cfg->y_taps;
    const int32_t w = cfg->out_width, x_lo = cfg->rect_x, x_hi = cfg->rect_x + cfg->rect_width;
    const size_t len = pre_row_len(cfg);
    const size_t conv_len = pre_converts(cfg->pixel_format) ? (size_t)cfg->crop_width * 3u : 0u;
    for (int32_t y = 0; y < cfg->rect_y; y++) pre_write_cols(cfg, y, w, w, NULL, n, out);
    if (cfg->v_first) {
        int32_t *acc = (int32_t *)scratch;
        uint8_t *conv = (uint8_t *)(acc + (size_t)cfg->crop_width * (size_t)n), *vals = conv + conv_len;
        for (int32_t i = 0; i < cfg->rect_height; i++) {
            pre_vpass1(cfg, &r, frame, stride_bytes, i, n, acc, conv);
            pre_hpass2(cfg, &r, acc, n, vals);
            pre_write_cols(cfg, cfg->rect_y + i, x_lo, x_hi, vals, n, out);
        }
    } else {
        int32_t pos[3];
        /* One or two taps, three channels in some order, byte tables: rows go straight from the ring to the
         * tensor (the camera-to-int8 case); otherwise through the accumulator and vals. */
        const bool direct = taps <= 2 && n == 3 && cfg->out_bytes == 1 && pre_positions(cfg, pos);
        int32_t *ring = (int32_t *)scratch;
        int32_t *acc = ring + (size_t)taps * len;
        uint8_t *conv = (uint8_t *)(acc + len), *vals = conv + conv_len;
        int32_t done = 0; /* crop rows below done that are >= the current window's first row are in the ring */
        for (int32_t i = 0; i < cfg->rect_height; i++) {
            const int32_t y0 = cfg->y_start[i];
            for (int32_t row = done > y0 ? done : y0; row < y0 + taps; row++) {
                int32_t step;
                const uint8_t *src = up_pre_read_row(cfg, frame, stride_bytes, row, conv, &step);
                pre_hpass(cfg, &r, src, step, n, ring + (size_t)(row % taps) * len);
            }
            done = y0 + taps;
            const int32_t *k = cfg->y_coeff + (size_t)i * (size_t)taps;
            if (direct) {
                const int32_t *r0 = ring + (size_t)(y0 % taps) * len, *r1 = ring + (size_t)((y0 + 1) % taps) * len;
                pre_vpass_emit(cfg, &r, r0, r1, k, taps, pos, cfg->rect_y + i, out);
                pre_write_cols(cfg, cfg->rect_y + i, x_lo, x_hi, NULL, n, out);
            } else {
                pre_vpass(&r, ring, taps, y0, k, len, acc, vals);
                pre_write_cols(cfg, cfg->rect_y + i, x_lo, x_hi, vals, n, out);
            }
        }
    }
    for (int32_t y = cfg->rect_y + cfg->rect_height; y < cfg->out_height; y++)
        pre_write_cols(cfg, y, w, w, NULL, n, out);
    return UP_OK;
}
