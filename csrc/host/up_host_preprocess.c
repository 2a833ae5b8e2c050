/*
 * The pre-processing stage on the host: up_pre_run's passes and bytes (the same integer sums, rounding and
 * clipping), driven faster. A resize with the horizontal pass first (what Pillow does for most frames; CV2's
 * exact first pass makes its order free) filters each source pixel window with AVX2 pmaddwd;
 * a nearest-neighbour resize copies pixels; every other config runs up_pre_run itself.
 *
 * Exactness of the pmaddwd pass: each coefficient k (int32) is split as k = kh * 2^11 + kl with 0 <= kl < 2^11,
 * both int16 (|k| <= INT32_MAX / 255, as up_pre_check_config guarantees); the sum of the products is formed in
 * wrapping 32-bit lanes as (sum p * kh) * 2^11 + sum p * kl, equal modulo 2^32 to the exact sum, which the config
 * check keeps within int32: the lanes hold the exact sum.
 */
#include "up_host_internal.h"

#define UP_PRE_FAST_TAPS 64 /* windows up to this many pixels take the SIMD pass (16 groups of 4 taps) */
#define UP_PRE_PAD 64       /* bytes after the converted row and the filtered rows: loads and stores run past */

static size_t up_align32(size_t n) { return (n + 31u) & ~(size_t)31u; }

static int32_t pre_groups(const up_pre_config_t *cfg) { return (cfg->x_taps + 3) / 4; }

/* The SIMD pass serves 3-channel sources read 3 or 4 bytes a pixel (RGB888, BGR888, RGBA8888, and RGB565 / YUYV
 * once converted to RGB888), horizontal pass first, windows up to UP_PRE_FAST_TAPS. */
static bool pre_simd_fits(const up_pre_config_t *cfg)
{
    return (!cfg->v_first || cfg->resample == UP_RESAMPLE_CV2) && cfg->resample != UP_RESAMPLE_NEAREST &&
           up_pre_channels(cfg->pixel_format) == 3 &&
           cfg->x_taps <= UP_PRE_FAST_TAPS && cfg->y_taps <= UP_PRE_FAST_TAPS;
}

/* Nearest-neighbour with unit weights: the output is the source pixel, no sums. */
static bool pre_copies(const up_pre_config_t *cfg)
{
    if (cfg->resample != UP_RESAMPLE_NEAREST || cfg->x_taps != 1 || cfg->y_taps != 1) return false;
    for (int32_t j = 0; j < cfg->rect_width; j++)
        if (cfg->x_coeff[j] != 1) return false;
    for (int32_t i = 0; i < cfg->rect_height; i++)
        if (cfg->y_coeff[i] != 1) return false;
    return true;
}

/* Scratch of the SIMD pass: the coefficient vectors (rect_width x groups x 2 x 32 bytes), the ring of filtered
 * rows (y_taps x (row + pad), int32), two converted rows, the resized row (+ pad), the windows' byte offsets. */
static size_t pre_simd_bytes(const up_pre_config_t *cfg)
{
    const size_t len = (size_t)cfg->rect_width * 3u;
    const size_t coeff = (size_t)cfg->rect_width * (size_t)pre_groups(cfg) * 64u;
    const size_t ring = (size_t)cfg->y_taps * up_align32(len * 4u + UP_PRE_PAD);
    return 32u + coeff + ring + 2u * up_align32((size_t)cfg->crop_width * 3u + UP_PRE_PAD) +
           up_align32(len + UP_PRE_PAD) + (size_t)cfg->rect_width * 4u;
}

size_t up_host_pre_scratch_size(const up_pre_config_t *cfg)
{
    const size_t base = up_pre_scratch_size(cfg);
    if (base == 0) return 0;
    const size_t copy = up_align32((size_t)cfg->crop_width * 3u + UP_PRE_PAD) +
                        up_align32((size_t)cfg->rect_width * 3u + UP_PRE_PAD) + (size_t)cfg->rect_width * 4u;
    const size_t simd = pre_simd_fits(cfg) ? pre_simd_bytes(cfg) : 0u;
    size_t need = base > copy ? base : copy;
    return need > simd ? need : simd;
}

/* Output row y of a 3-channel resized row (vals: [rect_width][3]) through the output tables, as up_pre_write_row
 * writes it, with the layout and element size fixed per loop so each is a plain gather of table entries. */
#define UP_PRE_WRITE(T, lut_all)                                                                                   \
    do {                                                                                                           \
        for (int32_t c = 0; c < 3; c++) {                                                                          \
            const T *lut = (lut_all) + 256 * c;                                                                    \
            const uint8_t *v = vals + cfg->channel_map[c];                                                         \
            const T pad = lut[cfg->pad_value];                                                                     \
            if (nchw) {                                                                                            \
                T *o = (T *)out + ((size_t)c * (size_t)h + (size_t)y) * (size_t)w;                                 \
                for (int32_t x = 0; x < x0; x++) o[x] = pad;                                                       \
                for (int32_t x = 0; x < rw; x++) o[x0 + x] = lut[v[3 * x]];                                        \
                for (int32_t x = x0 + rw; x < w; x++) o[x] = pad;                                                  \
            } else {                                                                                               \
                T *o = (T *)out + (size_t)y * (size_t)w * 3u + (size_t)c;                                          \
                for (int32_t x = 0; x < x0; x++) o[3 * x] = pad;                                                   \
                for (int32_t x = 0; x < rw; x++) o[3 * (x0 + x)] = lut[v[3 * x]];                                  \
                for (int32_t x = x0 + rw; x < w; x++) o[3 * x] = pad;                                              \
            }                                                                                                      \
        }                                                                                                          \
    } while (0)

static void pre_write3(const up_pre_config_t *cfg, int32_t y, const uint8_t *vals, void *out)
{
    const int32_t w = cfg->out_width, h = cfg->out_height, x0 = cfg->rect_x, rw = cfg->rect_width;
    const bool nchw = cfg->layout == UP_LAYOUT_NCHW;
    if (cfg->out_bytes == 4)
        UP_PRE_WRITE(uint32_t, cfg->lut32);
    else
        UP_PRE_WRITE(uint8_t, cfg->lut8);
}

static void pre_write_vals(const up_pre_config_t *cfg, int32_t y, const uint8_t *vals, void *out, bool avx2);

#ifdef UP_HOST_X86
/* One output pixel of the horizontal pass the portable way (its window reaches the end of the frame's bytes,
 * where the 16-byte loads of the SIMD pass would read past them). */
static void pre_hpixel(const up_pre_config_t *cfg, const up_pre_rounding_t *r, const uint8_t *p, int32_t step,
                       const int32_t *k, int32_t *dst)
{
    int32_t a[3] = {r->bias1, r->bias1, r->bias1};
    for (int32_t t = 0; t < cfg->x_taps; t++, p += step)
        for (int32_t c = 0; c < 3; c++) a[c] += (int32_t)p[c] * k[t];
    for (int32_t c = 0; c < 3; c++) {
        int32_t v = a[c] >> r->shift1;
        dst[c] = r->clip1 ? (v < 0 ? 0 : (v > 255 ? 255 : v)) : v;
    }
}

/* Coefficient vectors of output j, group g (taps 4g..4g+3; 0 past x_taps): 16-bit lanes [k0 k1] x 4 in the low
 * half and [k2 k3] x 4 in the high half, as kh (the first vector) and kl (the second). */
__attribute__((target("avx2"))) static bool pre_simd_coeffs(const up_pre_config_t *cfg, __m256i *vec)
{
    bool split = false;
    const int32_t groups = pre_groups(cfg);
    for (int32_t j = 0; j < cfg->rect_width; j++) {
        const int32_t *k = cfg->x_coeff + (size_t)j * (size_t)cfg->x_taps;
        for (int32_t g = 0; g < groups; g++) {
            int16_t hi[16], lo[16];
            for (int32_t l = 0; l < 16; l++) {
                const int32_t t = 4 * g + (l >= 8 ? 2 : 0) + (l & 1);
                const int32_t kt = t < cfg->x_taps ? k[t] : 0;
                hi[l] = (int16_t)(kt >> 11);
                split |= hi[l] != 0;
                lo[l] = (int16_t)(kt & 2047);
            }
            vec[2 * ((size_t)j * (size_t)groups + (size_t)g)] = _mm256_loadu_si256((const __m256i *)hi);
            vec[2 * ((size_t)j * (size_t)groups + (size_t)g) + 1] = _mm256_loadu_si256((const __m256i *)lo);
        }
    }
    return split;
}

/* The byte shuffle of 16 bytes read at a group's first pixel: 16-bit lanes (channel c of taps 0 and 1) for
 * c = 0..2 and a zero lane in the low half; the same for taps 2 and 3 in the high half. */
__attribute__((target("avx2"))) static __m256i pre_simd_shuffle(int32_t step)
{
    int8_t m[32];
    for (int32_t half = 0; half < 2; half++)
        for (int32_t lane = 0; lane < 8; lane++) {
            const int32_t c = lane >> 1, tap = 2 * half + (lane & 1);
            m[16 * half + 2 * lane] = (int8_t)(c < 3 ? c + tap * step : -128);
            m[16 * half + 2 * lane + 1] = -128; /* high byte: zero (the pixel value is unsigned) */
        }
    return _mm256_loadu_si256((const __m256i *)m);
}

/* The sum of one window (the groups of output j) in wrapping 32-bit lanes: taps 0-1 of channels 0-2 in lanes
 * 0-2, taps 2-3 in lanes 4-6 (lanes 3 and 7 zero). */
__attribute__((target("avx2"))) static inline UP_ALWAYS_INLINE __m256i pre_simd_window(const __m256i *vec,
                                                                                    int32_t groups, bool split,
                                                                                    __m256i shuffle,
                                                                                    const uint8_t *p, int32_t step)
{
    __m256i acc_hi = _mm256_setzero_si256(), acc_lo = _mm256_setzero_si256();
    for (int32_t g = 0; g < groups; g++, p += 4 * step) {
        const __m256i v =
            _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p)), shuffle);
        if (split) acc_hi = _mm256_add_epi32(acc_hi, _mm256_madd_epi16(v, _mm256_load_si256(vec + 2 * g)));
        acc_lo = _mm256_add_epi32(acc_lo, _mm256_madd_epi16(v, _mm256_load_si256(vec + 2 * g + 1)));
    }
    return split ? _mm256_add_epi32(_mm256_slli_epi32(acc_hi, 11), acc_lo) : acc_lo;
}

/* What the horizontal pass of a run needs, fixed once per run. A config reads every row with one pixel step (the
 * frame's, or 3 for converted rows), so each window's byte offset is known in advance. */
typedef struct {
    const up_pre_config_t *cfg;
    const __m256i *vec;  /* coefficient vectors: rect_width x groups x (kh, kl) */
    const int32_t *offs; /* byte offset of window j's first pixel in its row: x_start[j] * step */
    __m256i shuffle;
    __m256i bias;
    __m128i shift;
    size_t span;  /* bytes the loads of one window reach from its first pixel */
    size_t reach; /* bytes the loads of a row's farthest window reach from the row's start */
    int32_t groups;
    int32_t step; /* bytes between pixels of a row as read: the frame's, or 3 for converted rows */
    bool split, clip;
} pre_hpass_t;

/* Horizontal pass of two source rows (a and b) into dst[rect_width][3] (int32, one slot of padding after it). The
 * rounding of both windows of output j runs in one vector. With checked, a window whose 16-byte loads would pass
 * end (the first byte past what may be read) is filtered the portable way; unchecked rows are far from it. */
__attribute__((target("avx2"))) static inline UP_ALWAYS_INLINE void
pre_simd_hpass2_of(const pre_hpass_t *h, const up_pre_rounding_t *r, const int32_t groups, const bool split,
                   const bool clip, const bool checked, const uint8_t *src_a, const uint8_t *end_a, int32_t *dst_a,
                   const uint8_t *src_b, const uint8_t *end_b, int32_t *dst_b)
{
    const __m256i lo = _mm256_setzero_si256(), hi = _mm256_set1_epi32(255), bias = h->bias;
    const __m128i shift = h->shift;
    /* locals: the vector stores may alias anything, h's fields included */
    const __m256i *vec = h->vec, shuffle = h->shuffle;
    const int32_t step = h->step, rw = h->cfg->rect_width, *offs = h->offs;
    const size_t span = h->span;
    for (int32_t j = 0; j < rw; j++, vec += 2 * groups) {
        const uint8_t *pa = src_a + offs[j], *pb = src_b + offs[j];
        if (checked && ((size_t)(end_a - pa) < span || (size_t)(end_b - pb) < span)) {
            const int32_t *k = h->cfg->x_coeff + (size_t)j * (size_t)h->cfg->x_taps;
            pre_hpixel(h->cfg, r, pa, step, k, dst_a + 3 * j);
            pre_hpixel(h->cfg, r, pb, step, k, dst_b + 3 * j);
            continue;
        }
        const __m256i sa = pre_simd_window(vec, groups, split, shuffle, pa, step);
        const __m256i sb = pre_simd_window(vec, groups, split, shuffle, pb, step);
        __m256i s = _mm256_add_epi32(_mm256_permute2x128_si256(sa, sb, 0x20), _mm256_permute2x128_si256(sa, sb, 0x31));
        s = _mm256_sra_epi32(_mm256_add_epi32(s, bias), shift);
        if (clip) s = _mm256_min_epi32(_mm256_max_epi32(s, lo), hi);
        /* the 4th lane of each lands in the next slot (or the pad): output j + 1 overwrites it */
        _mm_storeu_si128((__m128i *)(dst_a + 3 * j), _mm256_castsi256_si128(s));
        _mm_storeu_si128((__m128i *)(dst_b + 3 * j), _mm256_extracti128_si256(s, 1));
    }
}

/* The pass with its constants compiled in for Pillow's common windows (up to 12 taps: 3:1 and a little beyond) and
 * for OpenCV's 2-tap Q8 weights (no high halves, no clipping between the passes); others take the general loop. */
__attribute__((target("avx2"))) static void pre_simd_hpass2(const pre_hpass_t *h, const up_pre_rounding_t *r,
                                                            const uint8_t *a, const uint8_t *end_a, int32_t *dst_a,
                                                            const uint8_t *b, const uint8_t *end_b, int32_t *dst_b)
{
    const bool checked = (size_t)(end_a - a) < h->reach || (size_t)(end_b - b) < h->reach;
#define UP_PRE_HPASS(G, S, C)                                                                                      \
    do {                                                                                                           \
        if (checked)                                                                                               \
            pre_simd_hpass2_of(h, r, G, S, C, true, a, end_a, dst_a, b, end_b, dst_b);                             \
        else                                                                                                       \
            pre_simd_hpass2_of(h, r, G, S, C, false, a, end_a, dst_a, b, end_b, dst_b);                            \
    } while (0)
    if (!h->split && !h->clip && h->groups == 1)
        UP_PRE_HPASS(1, false, false);
    else if (h->split && h->clip && h->groups == 1)
        UP_PRE_HPASS(1, true, true);
    else if (h->split && h->clip && h->groups == 2)
        UP_PRE_HPASS(2, true, true);
    else if (h->split && h->clip && h->groups == 3)
        UP_PRE_HPASS(3, true, true);
    else
        UP_PRE_HPASS(h->groups, true, h->clip);
#undef UP_PRE_HPASS
}

/* Vertical sums of the rows (their weights ks) into 8-bit values, 8 at a time (the rows' padding and dst's absorb
 * the last group's excess). */
__attribute__((target("avx2"))) static inline UP_ALWAYS_INLINE void
pre_simd_vsum(const up_pre_rounding_t *r, const int32_t *const *rows, const int32_t *ks, const int32_t used, size_t len,
              uint8_t *dst)
{
    const __m256i bias = _mm256_set1_epi32(r->bias2), lo = _mm256_setzero_si256(), hi = _mm256_set1_epi32(255);
    const __m128i shift = _mm_cvtsi32_si128(r->shift2);
    for (size_t e = 0; e < len; e += 8) {
        __m256i acc = bias;
        for (int32_t q = 0; q < used; q++)
            acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)(rows[q] + e)),
                                                           _mm256_set1_epi32(ks[q])));
        acc = _mm256_min_epi32(_mm256_max_epi32(_mm256_sra_epi32(acc, shift), lo), hi);
        const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        _mm_storel_epi64((__m128i *)(dst + e), _mm_packus_epi16(w, w));
    }
}

/* Vertical pass: taps ring rows (slot of crop row y0 + t is (y0 + t) % taps) into 8-bit values; the rows of zero
 * weight are left out, and the common counts of the others compiled in. */
__attribute__((target("avx2"))) static void pre_simd_vpass(const up_pre_rounding_t *r, const int32_t *ring,
                                                           size_t row_ints, int32_t taps, int32_t y0,
                                                           const int32_t *k, size_t len, uint8_t *dst)
{
    const int32_t *rows[UP_PRE_FAST_TAPS];
    int32_t ks[UP_PRE_FAST_TAPS], used = 0;
    for (int32_t t = 0; t < taps; t++)
        if (k[t] != 0) {
            rows[used] = ring + (size_t)((y0 + t) % taps) * row_ints;
            ks[used++] = k[t];
        }
    switch (used) {
    case 1: pre_simd_vsum(r, rows, ks, 1, len, dst); break;
    case 2: pre_simd_vsum(r, rows, ks, 2, len, dst); break;
    case 3: pre_simd_vsum(r, rows, ks, 3, len, dst); break;
    case 4: pre_simd_vsum(r, rows, ks, 4, len, dst); break;
    case 5: pre_simd_vsum(r, rows, ks, 5, len, dst); break;
    case 6: pre_simd_vsum(r, rows, ks, 6, len, dst); break;
    default: pre_simd_vsum(r, rows, ks, used, len, dst); break;
    }
}

/* Nearest: 8 source pixels a step, gathered as 32-bit words at their byte offsets (the 4th byte, past the
 * pixel, is dropped; the caller keeps the last word inside what may be read), compacted to 3 bytes each. */
__attribute__((target("avx2"))) static void pre_simd_copy_row(const uint8_t *src, const int32_t *offs, int32_t rw,
                                                              uint8_t *vals)
{
    const __m256i pack = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -128, -128, -128, -128, 0, 1, 2, 4,
                                          5, 6, 8, 9, 10, 12, 13, 14, -128, -128, -128, -128);
    int32_t j = 0;
    for (; j + 8 <= rw; j += 8) {
        const __m256i idx = _mm256_loadu_si256((const __m256i *)(offs + j));
        const __m256i px = _mm256_shuffle_epi8(_mm256_i32gather_epi32((const int *)src, idx, 1), pack);
        _mm_storeu_si128((__m128i *)(vals + 3 * j), _mm256_castsi256_si128(px)); /* 12 bytes + 4 overwritten */
        _mm_storeu_si128((__m128i *)(vals + 3 * j + 12), _mm256_extracti128_si256(px, 1));
    }
    for (; j < rw; j++) {
        const uint8_t *p = src + offs[j];
        const uint8_t c0 = p[0], c1 = p[1], c2 = p[2];
        vals[3 * j] = c0;
        vals[3 * j + 1] = c1;
        vals[3 * j + 2] = c2;
    }
}

/* Float32 NCHW output rows through the tables by gathers, 8 pixels at a time: pixel x's value of channel m is
 * byte 3x + m of vals (16-byte loads at 3x and 3x + 12 hold pixels x..x+3 and x+4..x+7 at the same offsets). */
__attribute__((target("avx2"))) static void pre_simd_write_nchw32(const up_pre_config_t *cfg, int32_t y,
                                                                  const uint8_t *vals, void *out)
{
    const int32_t w = cfg->out_width, h = cfg->out_height, x0 = cfg->rect_x, rw = cfg->rect_width;
    for (int32_t c = 0; c < 3; c++) {
        const int32_t m = cfg->channel_map[c];
        const uint32_t *lut = cfg->lut32 + 256 * c;
        uint32_t *o = (uint32_t *)out + ((size_t)c * (size_t)h + (size_t)y) * (size_t)w;
        int8_t mk[16];
        for (int32_t b = 0; b < 16; b++) mk[b] = (int8_t)((b & 3) == 0 ? 3 * (b >> 2) + m : -128);
        const __m256i mask = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)mk));
        for (int32_t x = 0; x < x0; x++) o[x] = lut[cfg->pad_value];
        int32_t x = 0;
        for (; x + 8 <= rw; x += 8) {
            const uint8_t *v = vals + 3 * x;
            const __m256i bytes = _mm256_inserti128_si256(
                _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)v)), _mm_loadu_si128((const __m128i *)(v + 12)), 1);
            const __m256i idx = _mm256_shuffle_epi8(bytes, mask);
            _mm256_storeu_si256((__m256i *)(o + x0 + x), _mm256_i32gather_epi32((const int *)lut, idx, 4));
        }
        for (; x < rw; x++) o[x0 + x] = lut[vals[3 * x + m]];
        for (x = x0 + rw; x < w; x++) o[x] = lut[cfg->pad_value];
    }
}

__attribute__((target("avx2"))) static void pre_simd_run(const up_pre_config_t *cfg, const uint8_t *frame,
                                                         int32_t height, int32_t stride, uint8_t *scratch, void *out)
{
    const up_pre_rounding_t r = up_pre_rounding(cfg->resample);
    const int32_t taps = cfg->y_taps, groups = pre_groups(cfg);
    const bool converts = cfg->pixel_format == UP_PIX_RGB565 || cfg->pixel_format == UP_PIX_YUYV;
    const int32_t step = converts ? 3 : up_pre_bytes_per_pixel(cfg->pixel_format);
    const size_t len = (size_t)cfg->rect_width * 3u, row_bytes = up_align32(len * 4u + UP_PRE_PAD);
    const size_t conv_bytes = up_align32((size_t)cfg->crop_width * 3u + UP_PRE_PAD);
    uint8_t *base = (uint8_t *)(((uintptr_t)scratch + 31u) & ~(uintptr_t)31u);
    __m256i *vec = (__m256i *)base;
    int32_t *ring = (int32_t *)(base + (size_t)cfg->rect_width * (size_t)groups * 64u);
    uint8_t *conv_a = (uint8_t *)ring + (size_t)taps * row_bytes, *conv_b = conv_a + conv_bytes;
    uint8_t *vals = conv_b + conv_bytes;
    int32_t *offs = (int32_t *)(vals + up_align32(len + UP_PRE_PAD));
    /* the end of what may be read: the frame's last byte, or a converted row's padding */
    const uint8_t *end = converts ? NULL
                                  : frame + (size_t)(height - 1) * (size_t)stride +
                                        (size_t)cfg->frame_width * (size_t)step;
    pre_hpass_t h;
    h.cfg = cfg;
    h.vec = vec;
    h.offs = offs;
    h.split = pre_simd_coeffs(cfg, vec);
    h.clip = r.clip1;
    h.groups = groups;
    h.step = step;
    h.shuffle = pre_simd_shuffle(step);
    h.bias = _mm256_set1_epi32(r.bias1);
    h.shift = _mm_cvtsi32_si128(r.shift1);
    h.span = (size_t)(4 * groups - 4) * (size_t)step + 16u;
    int32_t max_start = 0;
    for (int32_t j = 0; j < cfg->rect_width; j++) {
        offs[j] = cfg->x_start[j] * step;
        max_start = cfg->x_start[j] > max_start ? cfg->x_start[j] : max_start;
    }
    h.reach = (size_t)max_start * (size_t)step + h.span;
    int32_t done = 0; /* crop rows below done that are >= the current window's first row are in the ring */
    for (int32_t i = 0; i < cfg->rect_height; i++) {
        const int32_t y0 = cfg->y_start[i];
        /* the rows this window adds, two at a time (an odd one out is filtered with itself) */
        for (int32_t row = done > y0 ? done : y0; row < y0 + taps; row += 2) {
            const int32_t row_b = row + 1 < y0 + taps ? row + 1 : row;
            int32_t step_read;
            const uint8_t *a = up_pre_read_row(cfg, frame, stride, row, conv_a, &step_read);
            const uint8_t *b = row_b == row ? a : up_pre_read_row(cfg, frame, stride, row_b, conv_b, &step_read);
            pre_simd_hpass2(&h, &r, a, converts ? conv_a + conv_bytes : end,
                            (int32_t *)((uint8_t *)ring + (size_t)(row % taps) * row_bytes), b,
                            converts ? (b == a ? conv_a : conv_b) + conv_bytes : end,
                            (int32_t *)((uint8_t *)ring + (size_t)(row_b % taps) * row_bytes));
        }
        done = y0 + taps;
        pre_simd_vpass(&r, ring, row_bytes / 4u, taps, y0, cfg->y_coeff + (size_t)i * (size_t)taps, len, vals);
        pre_write_vals(cfg, cfg->rect_y + i, vals, out, true);
    }
}
#endif

/* A resized 3-channel row to the output: float32 NCHW by gathers where AVX2 runs. */
static void pre_write_vals(const up_pre_config_t *cfg, int32_t y, const uint8_t *vals, void *out, bool avx2)
{
#ifdef UP_HOST_X86
    if (avx2 && cfg->out_bytes == 4 && cfg->layout == UP_LAYOUT_NCHW) {
        pre_simd_write_nchw32(cfg, y, vals, out);
        return;
    }
#endif
    (void)avx2;
    pre_write3(cfg, y, vals, out);
}

static void pre_copy_run(const up_pre_config_t *cfg, const uint8_t *frame, int32_t height, int32_t stride,
                         uint8_t *scratch, void *out, bool avx2)
{
    const int32_t n = up_pre_channels(cfg->pixel_format);
    uint8_t *conv = scratch, *vals = conv + up_align32((size_t)cfg->crop_width * 3u + UP_PRE_PAD);
    int32_t *offs = (int32_t *)(vals + up_align32((size_t)cfg->rect_width * 3u + UP_PRE_PAD));
    /* locals: the byte stores below may alias anything the compiler cannot see through, cfg's fields included */
    const int32_t *xs = cfg->x_start, rw = cfg->rect_width;
    const bool converts = cfg->pixel_format == UP_PIX_RGB565 || cfg->pixel_format == UP_PIX_YUYV;
    const int32_t step = converts ? 3 : up_pre_bytes_per_pixel(cfg->pixel_format);
    int32_t max_off = 0;
    for (int32_t j = 0; j < rw; j++) {
        offs[j] = xs[j] * step;
        max_off = offs[j] > max_off ? offs[j] : max_off;
    }
#ifdef UP_HOST_X86
    const uint8_t *end = frame + (size_t)(height - 1) * (size_t)stride + (size_t)cfg->frame_width * (size_t)step;
#else
    (void)height;
    (void)avx2;
#endif
    for (int32_t i = 0; i < cfg->rect_height; i++) {
        int32_t row_step;
        const uint8_t *src = up_pre_read_row(cfg, frame, stride, cfg->y_start[i], conv, &row_step);
        if (n != 3) {
            for (int32_t j = 0; j < rw; j++) vals[j] = src[offs[j]];
            up_pre_write_row(cfg, cfg->rect_y + i, vals, n, out);
            continue;
        }
#ifdef UP_HOST_X86
        if (avx2 && (converts || (size_t)(end - src) >= (size_t)max_off + 4u)) {
            pre_simd_copy_row(src, offs, rw, vals);
            pre_write_vals(cfg, cfg->rect_y + i, vals, out, avx2);
            continue;
        }
#endif
        for (int32_t j = 0; j < rw; j++) {
            const uint8_t *p = src + offs[j];
            const uint8_t c0 = p[0], c1 = p[1], c2 = p[2];
            vals[3 * j] = c0;
            vals[3 * j + 1] = c1;
            vals[3 * j + 2] = c2;
        }
        pre_write_vals(cfg, cfg->rect_y + i, vals, out, avx2);
    }
}

int32_t up_host_pre_run(const up_pre_config_t *cfg, const uint8_t *frame, int32_t width, int32_t height,
                        int32_t stride_bytes, void *scratch, size_t scratch_size, void *out, size_t out_size)
{
    if (cfg == NULL || frame == NULL || scratch == NULL || out == NULL) return UP_ERR_NULL;
    /* up_pre_run's checks, in its order (the statuses are the same whichever way the frame is filtered). */
    if (width != cfg->frame_width || height != cfg->frame_height) return UP_ERR_FRAME;
    if ((int64_t)stride_bytes < (int64_t)width * up_pre_bytes_per_pixel(cfg->pixel_format)) return UP_ERR_STRIDE;
    const size_t need = up_host_pre_scratch_size(cfg);
    if (need == 0) return UP_ERR_CONFIG;
    if (scratch_size < need || ((uintptr_t)scratch & 3u)) return UP_ERR_SCRATCH;
    const size_t out_need = (size_t)cfg->out_width * (size_t)cfg->out_height * 3u * cfg->out_bytes;
    if (out_size < out_need || ((uintptr_t)out & (uintptr_t)(cfg->out_bytes - 1u))) return UP_ERR_OUTPUT;
    const bool copies = pre_copies(cfg);
    bool avx2 = false;
#ifdef UP_HOST_X86
    avx2 = __builtin_cpu_supports("avx2");
#endif
    const bool simd = avx2 && pre_simd_fits(cfg);
    if (!copies && !simd)
        return up_pre_run(cfg, frame, width, height, stride_bytes, scratch, scratch_size, out, out_size);
    const int32_t n = up_pre_channels(cfg->pixel_format);
    for (int32_t y = 0; y < cfg->rect_y; y++) up_pre_write_row(cfg, y, NULL, n, out);
#ifdef UP_HOST_X86
    if (simd)
        pre_simd_run(cfg, frame, height, stride_bytes, (uint8_t *)scratch, out);
    else
#endif
        pre_copy_run(cfg, frame, height, stride_bytes, (uint8_t *)scratch, out, avx2);
    for (int32_t y = cfg->rect_y + cfg->rect_height; y < cfg->out_height; y++) up_pre_write_row(cfg, y, NULL, n, out);
    return UP_OK;
}
