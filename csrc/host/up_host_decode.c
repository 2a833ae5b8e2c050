/*
 * Batch decode of float32 boxes for the host's hard NMS: x86-64 AVX2 only (other hosts decode each box through the
 * core's up_box_of). Given corners are checked and clamped. Ultraface deltas go 8 (or 4) candidates per step in
 * 64-bit lanes through the same integer steps as the core's decode (up_box_of) and up_exp_q20, so the same bits (the tests compare with
 * the golden model). Converted deltas are within +-2^30 and var_center, var_size <= 2^30, so the products fit and
 * up_decode's saturations to int32 never act; they are left out. AVX2 has no 64-bit arithmetic shift: every
 * signed value shifted here is below 2^62 in magnitude (products of int32 and a value within 2^30), so x + 2^62
 * is >= 0, a logical shift gives floor(x / 2^n) + 2^(62 - n) exactly, and the offset comes off after.
 */
#include "up_host_internal.h"

#ifdef UP_HOST_X86
__attribute__((target("avx2"))) static inline __m256i up_srai64(__m256i x, int n)
{
    return _mm256_sub_epi64(_mm256_srli_epi64(_mm256_add_epi64(x, _mm256_set1_epi64x((int64_t)1 << 62)), n),
                            _mm256_set1_epi64x((int64_t)1 << (62 - n)));
}

/* round(x / 2^n) half up, as up_rshift_round (|x| < 2^62 - 2^n; the compiler folds the two constant adds) */
__attribute__((target("avx2"))) static inline __m256i up_rsr64(__m256i x, int n)
{
    return up_srai64(_mm256_add_epi64(x, _mm256_set1_epi64x((int64_t)1 << (n - 1))), n);
}

/* the same, for x >= 0 */
__attribute__((target("avx2"))) static inline __m256i up_rsr64u(__m256i x, int n)
{
    return _mm256_srli_epi64(_mm256_add_epi64(x, _mm256_set1_epi64x((int64_t)1 << (n - 1))), n);
}

/*
 * up_exp_q20 on n vectors of 4 lanes (int32 values, sign-extended), in place. Stage by stage over the n vectors:
 * one vector's steps form a long chain of dependent operations (latency, not throughput, bounds it), so the
 * chains of several vectors are interleaved for the core to run side by side.
 */
#define UP_EACH(n) for (int j = 0; j < (n); j++)
__attribute__((target("avx2"))) static inline UP_ALWAYS_INLINE void up_exp_q20_vec(__m256i *x, int n)
{
    __m256i k[4], g[4], t[4], u[4], u2[4], u3[4], m[4];
    UP_EACH(n) {
        __m256i y = _mm256_mul_epi32(x[j], _mm256_set1_epi64x(UP_LOG2E_Q30));
        __m256i f = _mm256_and_si256(y, _mm256_set1_epi64x(((int64_t)1 << 50) - 1));
        k[j] = up_srai64(y, 50);
        g[j] = _mm256_and_si256(_mm256_srli_epi64(f, 20), _mm256_set1_epi64x((1 << 24) - 1));
        t[j] = _mm256_cvtepu32_epi64(_mm256_i64gather_epi32(up_exp2_q30, _mm256_srli_epi64(f, 44), 4));
    }
    UP_EACH(n) u[j] = up_rsr64u(_mm256_mul_epu32(g[j], _mm256_set1_epi64x(UP_LN2_Q30)), 30);
    UP_EACH(n) u2[j] = up_rsr64u(_mm256_mul_epu32(u[j], u[j]), 30);
    UP_EACH(n) u3[j] = up_rsr64u(_mm256_mul_epu32(u2[j], u[j]), 30);
    UP_EACH(n) {
        __m256i p = _mm256_add_epi64(
            _mm256_add_epi64(_mm256_set1_epi64x((int64_t)1 << 30), u[j]),
            _mm256_add_epi64(up_rsr64u(u2[j], 1),
                             up_rsr64u(_mm256_mul_epu32(u3[j], _mm256_set1_epi64x(UP_SIXTH_Q30)), 30)));
        m[j] = up_rsr64u(_mm256_mul_epu32(t[j], p), 30); /* [2^30, 2^31] */
    }
    UP_EACH(n) {
        /* shift = 10 - k in 0..32 where k is in range; sllv / srlv give 0 / m for the counts of shift 0 */
        __m256i shift = _mm256_sub_epi64(_mm256_set1_epi64x(10), k[j]);
        __m256i bias = _mm256_sllv_epi64(_mm256_set1_epi64x(1), _mm256_sub_epi64(shift, _mm256_set1_epi64x(1)));
        __m256i r = _mm256_srlv_epi64(_mm256_add_epi64(m[j], bias), shift);
        __m256i max = _mm256_set1_epi64x(INT32_MAX);
        __m256i high = _mm256_or_si256(_mm256_cmpgt_epi64(r, max), _mm256_cmpgt_epi64(k[j], _mm256_set1_epi64x(10)));
        r = _mm256_blendv_epi8(r, max, high);
        x[j] = _mm256_andnot_si256(_mm256_cmpgt_epi64(_mm256_set1_epi64x(-22), k[j]), r); /* k < -22: 0 */
    }
}

__attribute__((target("avx2"))) static inline __m256i up_clamp64(__m256i v, __m256i lo, __m256i hi)
{
    v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
    return _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
}

/* Rows a, b, c, e of 4 int32 into columns t[0..3]. */
__attribute__((target("avx2"))) static inline void up_transpose4(__m128i a, __m128i b, __m128i c, __m128i e,
                                                                 __m128i t[4])
{
    __m128i ab0 = _mm_unpacklo_epi32(a, b); /* a0 b0 a1 b1 */
    __m128i ce0 = _mm_unpacklo_epi32(c, e);
    __m128i ab1 = _mm_unpackhi_epi32(a, b); /* a2 b2 a3 b3 */
    __m128i ce1 = _mm_unpackhi_epi32(c, e);
    t[0] = _mm_unpacklo_epi64(ab0, ce0);
    t[1] = _mm_unpackhi_epi64(ab0, ce0);
    t[2] = _mm_unpacklo_epi64(ab1, ce1);
    t[3] = _mm_unpackhi_epi64(ab1, ce1);
}

/* The low 32 bits of 4 int64 lanes (values known to fit). */
__attribute__((target("avx2"))) static inline __m128i up_low32(__m256i v)
{
    return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
}

/*
 * Ultraface deltas of 4 * groups candidates (groups 1 or 2) into boxes ([4 * groups][4] Q20). Each group's 4 rows
 * of deltas and of priors are transposed to columns (d: dx, dy, dw, dh; p: cx, cy, w, h); chain j is group j / 2,
 * axis j % 2 (x, then y), and the chains go stage by stage.
 */
__attribute__((target("avx2"))) static inline UP_ALWAYS_INLINE void up_decode_step_avx2(const up_host_source_t *run,
                                                                                   const int32_t *idx,
                                                                                   int groups, int32_t *boxes)
{
    const up_config_t *cfg = run->cfg;
    const float *rows = run->boxes;
    const size_t stride = (size_t)run->box_stride;
    __m256i lo = _mm256_set1_epi64x(cfg->clip ? 0 : -UP_BOX_LIMIT);
    __m256i hi = _mm256_set1_epi64x(cfg->clip ? UP_ONE_BOX : UP_BOX_LIMIT);
    __m128i d[2][4], p[2][4], corner[2][4]; /* corner: x1, y1, x2, y2 of a group's 4 boxes */
    __m256i c[4], e[4];
    for (int h = 0; h < groups; h++) {
        const int32_t *ix = idx + 4 * h;
        up_transpose4(up_load4_avx2(rows + (size_t)ix[0] * stride), up_load4_avx2(rows + (size_t)ix[1] * stride),
                      up_load4_avx2(rows + (size_t)ix[2] * stride), up_load4_avx2(rows + (size_t)ix[3] * stride),
                      d[h]);
        up_transpose4(_mm_loadu_si128((const __m128i *)(cfg->priors + (size_t)ix[0] * 4u)),
                      _mm_loadu_si128((const __m128i *)(cfg->priors + (size_t)ix[1] * 4u)),
                      _mm_loadu_si128((const __m128i *)(cfg->priors + (size_t)ix[2] * 4u)),
                      _mm_loadu_si128((const __m128i *)(cfg->priors + (size_t)ix[3] * 4u)), p[h]);
    }
    UP_EACH(2 * groups) {
        c[j] = up_rsr64(_mm256_mul_epi32(_mm256_cvtepi32_epi64(d[j / 2][j % 2]),
                                         _mm256_set1_epi64x(cfg->var_center_q30)), 30);
        e[j] = up_rsr64(_mm256_mul_epi32(_mm256_cvtepi32_epi64(d[j / 2][j % 2 + 2]),
                                         _mm256_set1_epi64x(cfg->var_size_q30)), 30);
    }
    up_exp_q20_vec(e, 2 * groups);
    __m256i bad = _mm256_setzero_si256(); /* lanes out of range, by the core's rule (up_decode.c) */
    UP_EACH(2 * groups) {
        __m256i pw = _mm256_cvtepi32_epi64(p[j / 2][j % 2 + 2]);
        __m256i center = _mm256_add_epi64(_mm256_cvtepi32_epi64(p[j / 2][j % 2]),
                                          up_rsr64(_mm256_mul_epi32(c[j], pw), 20));
        __m256i half = up_rsr64u(up_rsr64u(_mm256_mul_epu32(e[j], pw), 20), 1);
        __m256i x1 = _mm256_sub_epi64(center, half);
        __m256i x2 = _mm256_add_epi64(center, half);
        __m256i sat = _mm256_cmpeq_epi64(e[j], _mm256_set1_epi64x(INT32_MAX));
        bad = _mm256_or_si256(
            bad, cfg->clip ? _mm256_and_si256(sat, _mm256_or_si256(_mm256_cmpgt_epi64(x1, lo),
                                                                   _mm256_cmpgt_epi64(hi, x2)))
                           : _mm256_or_si256(sat, _mm256_or_si256(_mm256_cmpgt_epi64(lo, x1),
                                                                  _mm256_cmpgt_epi64(x2, hi))));
        corner[j / 2][j % 2] = up_low32(up_clamp64(x1, lo, hi));
        corner[j / 2][j % 2 + 2] = up_low32(up_clamp64(x2, lo, hi));
    }
    if (!_mm256_testz_si256(bad, bad)) {
        up_out_of_range(&run->src);
    }
    for (int h = 0; h < groups; h++) {
        __m128i out[4];
        up_transpose4(corner[h][0], corner[h][1], corner[h][2], corner[h][3], out);
        for (int q = 0; q < 4; q++) {
            _mm_storeu_si128((__m128i *)(boxes + (size_t)(4 * h + q) * 4u), out[q]);
        }
    }
}

/* Every box kind. */
__attribute__((target("avx2"))) void up_host_decode_batch_avx2(const up_host_source_t *h, const int32_t *idx,
                                                                int32_t n, int32_t *boxes)
{
    const up_config_t *cfg = h->cfg;
    const float *rows = h->boxes;
    int32_t i = 0;
    if (cfg->box_kind == UP_BOX_CORNERS) { /* corners as given, clamped */
        __m128i lo4 = _mm_set1_epi32(cfg->clip ? 0 : -UP_BOX_LIMIT);
        __m128i hi4 = _mm_set1_epi32(cfg->clip ? UP_ONE_BOX : UP_BOX_LIMIT);
        __m128i out = _mm_setzero_si128(); /* lanes beyond +-4: an error without clip (see the core's up_box_of) */
        for (; i < n; i++) {
            __m128i v = up_load4_avx2(rows + (size_t)idx[i] * (size_t)h->box_stride);
            out = _mm_or_si128(out, _mm_or_si128(_mm_cmpgt_epi32(v, hi4), _mm_cmpgt_epi32(lo4, v)));
            _mm_storeu_si128((__m128i *)(boxes + (size_t)i * 4u), _mm_min_epi32(_mm_max_epi32(v, lo4), hi4));
        }
        if (!cfg->clip && !_mm_testz_si128(out, out)) {
            up_out_of_range(&h->src);
        }
        return;
    }
    for (; cfg->box_kind == UP_BOX_DELTAS && i + 8 <= n; i += 8) {
        up_decode_step_avx2(h, idx + i, 2, boxes + (size_t)i * 4u);
    }
    if (cfg->box_kind == UP_BOX_DELTAS && i + 4 <= n) {
        up_decode_step_avx2(h, idx + i, 1, boxes + (size_t)i * 4u);
        i += 4;
    }
    for (; i < n; i++) { /* the last 1 to 3 deltas, and linear (BlazeFace) boxes */
        int32_t raw[4];
        _mm_storeu_si128((__m128i *)raw, up_load4_avx2(rows + (size_t)idx[i] * (size_t)h->box_stride));
        up_host_decode_raw(h, idx[i], raw, boxes + (size_t)i * 4u);
    }
}
#endif
