/* Host-only float32 boundary: conversion to fixed point, then the integer core. */
#include "up_host.h"

#ifndef UP_HOST_FLOAT
#error "up_host_float.c is host only: build it (and the core) with UP_HOST_FLOAT defined"
#endif

#include "up_internal.h"

#include <float.h>

int32_t up_f32_to_fixed(float x, int q, int32_t lo, int32_t hi)
{
    double v = (double)x * (double)((int64_t)1 << q); /* exact */
    if (v <= (double)lo) {
        return lo;
    }
    if (v >= (double)hi) {
        return hi;
    }
    v += 0.5; /* exact: |v| < 2^31 */
    int64_t t = (int64_t)v; /* truncates toward zero; make it floor */
    if ((double)t > v) {
        t -= 1;
    }
    return (int32_t)t;
}

/* x86-64 with GCC or Clang: AVX2 variants, chosen at run time. UP_HOST_NO_SIMD builds only the portable code,
 * as other hosts do (the tests build it that way too, to check that code against the golden model). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(UP_HOST_NO_SIMD)
#define UP_HOST_X86 1
#include <immintrin.h>
#endif

#if defined(__GNUC__)
#define UP_ALWAYS_INLINE __attribute__((always_inline))
#else
#define UP_ALWAYS_INLINE
#endif

/* Host builds on x86-64 Linux get an AVX2 clone of the scanning loops, chosen at load time. */
#if defined(UP_HOST_X86) && !defined(__clang__) && defined(__linux__)
#define UP_HOST_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define UP_HOST_CLONES
#endif

/* Index of the lowest set bit of a non-zero mask. */
static inline int32_t up_lowest_bit(unsigned mask)
{
#if defined(__GNUC__)
    return __builtin_ctz(mask);
#else
    int32_t j = 0;
    while (!(mask & 1u)) {
        mask >>= 1;
        j++;
    }
    return j;
#endif
}

static inline uint32_t up_bits(float x)
{
    union {
        float f;
        uint32_t u;
    } v = {x};
    return v.u;
}

/* Non-zero if any of n contiguous floats is NaN or Inf (exponent all ones);
 * an unsigned max reduction, which vectorizes. */
UP_HOST_CLONES static uint32_t up_any_nonfinite(const float *x, size_t n)
{
    uint32_t m = 0;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (size_t i = 0; i < n; i++) {
        uint32_t e = up_bits(x[i]) & 0x7f800000u;
        m = e > m ? e : m;
    }
    return m == 0x7f800000u;
}

/* Non-zero if any of the first cols elements of n rows (stride apart) is NaN or Inf. */
static uint32_t up_rows_nonfinite(const float *x, int32_t n, int32_t cols, int32_t stride)
{
    if (stride == cols) {
        return up_any_nonfinite(x, (size_t)n * (size_t)cols);
    }
    uint32_t acc = 0;
    for (int32_t a = 0; a < n; a++) {
        acc |= up_any_nonfinite(x + (size_t)a * (size_t)stride, (size_t)cols);
    }
    return acc;
}

/* The float32 of an order-preserving key (see ultrapost.h: F32 PROB bounds); beyond the finite range, +-Inf. */
static float up_float_of_key(int64_t k)
{
    union {
        uint32_t u;
        float f;
    } v;
    if (k > 0x7f800000) {
        k = 0x7f800000;
    } else if (k < -0x7f800000) {
        k = -0x7f800000;
    }
    v.u = k >= 0 ? (uint32_t)k : ((uint32_t)-k | 0x80000000u);
    return v.f;
}

/* The smallest float32 passing an F32 PROB bound: p passes exactly when p >= this. */
static float up_prob_threshold(int32_t bound)
{
    return up_float_of_key((int64_t)bound + 1);
}

/* A Q30 bound below the key of every p >= thr (the ordering keys of passing anchors all exceed it). */
static int32_t up_prob_q30_bound(float thr)
{
    return up_f32_to_fixed(thr, UP_F32_PROB_Q, 0, UP_ONE_SCORE) - 1;
}

/*
 * Probability scores: the anchors whose score passes (p >= thr, exact on the float) are packed as
 * key << 32 | ~anchor; keys are Q30 in [0, 2^30], so sorting the packed values descending gives key descending,
 * then anchor ascending (keep order). A passing p above 1 sets *above (UP_ERR_RANGE).
 */
static int32_t up_pack(const float *p, int32_t stride, float thr, uint64_t *packed, int32_t count, int32_t a,
                       int32_t end, uint32_t *above)
{
    for (int32_t j = a; j < end; j++) {
        float v = p[(size_t)j * (size_t)stride];
        if (v >= thr) {
            *above |= v > 1.0f;
            int32_t key = up_f32_to_fixed(v, UP_F32_PROB_Q, 0, UP_ONE_SCORE);
            packed[count++] = (uint64_t)(uint32_t)key << 32 | (uint32_t)~(uint32_t)j;
        }
    }
    return count;
}

#ifdef UP_HOST_X86
/* Lane indices that move the 64-bit lanes set in a 4-bit mask to the front, in order (a compress). */
static const int32_t up_compress4[16][8] = {
    {0, 0, 0, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 0, 0, 0, 0}, {2, 3, 0, 0, 0, 0, 0, 0}, {0, 1, 2, 3, 0, 0, 0, 0},
    {4, 5, 0, 0, 0, 0, 0, 0}, {0, 1, 4, 5, 0, 0, 0, 0}, {2, 3, 4, 5, 0, 0, 0, 0}, {0, 1, 2, 3, 4, 5, 0, 0},
    {6, 7, 0, 0, 0, 0, 0, 0}, {0, 1, 6, 7, 0, 0, 0, 0}, {2, 3, 6, 7, 0, 0, 0, 0}, {0, 1, 2, 3, 6, 7, 0, 0},
    {4, 5, 6, 7, 0, 0, 0, 0}, {0, 1, 4, 5, 6, 7, 0, 0}, {2, 3, 4, 5, 6, 7, 0, 0}, {0, 1, 2, 3, 4, 5, 6, 7},
};

/*
 * Packs the passing anchors of one vector of 4 [bg, face] rows without a branch: seen as 64-bit lanes, each row is
 * face << 32 | bg, so converting the floats in place and putting ~anchor in the low halves gives the packed values,
 * which are compressed to the front and stored (4 lanes: the caller leaves room). For bound >= 2^23
 * (p >= 2^-7), p * 2^30 is an integer: the truncating conversion of min(p, 1) * 2^30 is exactly up_f32_to_fixed's
 * key, and key > bound (up_prob_q30_bound of a float32 thr >= 2^-7) is exactly p >= thr; smaller p fail both
 * ways, and NaN converts to INT32_MIN, which fails. Returns how many it packed.
 */
__attribute__((target("avx2"))) static inline int32_t up_pack_rows4_avx2(__m256 rows, __m256i not_anchor,
                                                                          __m256i bound, uint64_t *out)
{
    __m256 p = _mm256_min_ps(_mm256_set1_ps(1.0f), rows); /* min_ps returns its second operand for NaN */
    __m256i keys = _mm256_cvttps_epi32(_mm256_mul_ps(p, _mm256_set1_ps((float)((int32_t)1 << UP_F32_PROB_Q))));
    unsigned m = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi32(keys, bound)));
    __m256i packed = _mm256_blend_epi32(keys, not_anchor, 0x55);
    __m256i perm = _mm256_loadu_si256((const __m256i *)up_compress4[m]);
    _mm256_storeu_si256((__m256i *)out, _mm256_permutevar8x32_epi32(packed, perm));
    return (int32_t)((0x4332322132212110ull >> (4u * m)) & 15u); /* popcount of m */
}

/*
 * [N, 2] rows, 16 anchors (4 vectors) per step, 2 vector operations per 8 floats: |x| >= limit, where limit is
 * the threshold in the class column and FLT_MAX in the other, compared unordered so that NaN is caught too.
 * It holds for every NaN or Inf and every probability at or above the threshold; the rare groups where it
 * holds anywhere are then checked and packed exactly: 4 rows at a time by up_pack_rows4_avx2 when the class is
 * column 1 and bound >= 2^23, else flag by flag. Returns the count; *nonfinite is set if any, and *above if a
 * passing probability exceeds 1 (the same groups are flagged: thr <= 1 < p). up_pack_rows4_avx2
 * may write 3 values past the count: into packed_tmp, which follows.
 * With boxes (rows of 4 floats, or NULL), the same pass checks their 16 rows per step too: one pass over both
 * tensors instead of two, and the box loads overlap the scores' rare exact checks.
 */
__attribute__((target("avx2"))) static int32_t up_pack_pairs_avx2(const up_source_t *src, const float *rows,
                                                                    const float *boxes, float thr,
                                                                    int32_t qbound, uint64_t *packed,
                                                                    uint32_t *nonfinite, uint32_t *above)
{
    int32_t n = src->cfg->num_anchors;
    int32_t c = src->column;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i exponent = _mm256_set1_epi32(0x7f800000);
    __m256i box_max = _mm256_setzero_si256(); /* unsigned max of the boxes' exponent bits */
    const __m256 limit = c ? _mm256_setr_ps(FLT_MAX, thr, FLT_MAX, thr, FLT_MAX, thr, FLT_MAX, thr)
                           : _mm256_setr_ps(thr, FLT_MAX, thr, FLT_MAX, thr, FLT_MAX, thr, FLT_MAX);
    uint32_t bad = 0;
    int32_t count = 0;
    int32_t a = 0;
    const bool rows4 = c == 1 && qbound >= ((int32_t)1 << 23);
    const __m256i bound = _mm256_set1_epi32(qbound);
    const __m256 one = _mm256_setr_ps(FLT_MAX, 1.0f, FLT_MAX, 1.0f, FLT_MAX, 1.0f, FLT_MAX, 1.0f);
    __m256i bad_lanes = _mm256_setzero_si256(); /* exponent all ones, in groups packed by up_pack_rows4_avx2 */
    __m256 above_lanes = _mm256_setzero_ps();   /* a face probability above 1, in those groups */
    for (; a + 16 <= n; a += 16) {
        const float *r = rows + (size_t)a * 2u;
        if (boxes) {
            const __m256i *b = (const __m256i *)(boxes + (size_t)a * 4u);
            for (int q = 0; q < 8; q++) {
                box_max = _mm256_max_epu32(box_max, _mm256_and_si256(_mm256_loadu_si256(b + q), exponent));
            }
        }
        __m256 v[4] = {_mm256_loadu_ps(r), _mm256_loadu_ps(r + 8), _mm256_loadu_ps(r + 16), _mm256_loadu_ps(r + 24)};
        __m256 f0 = _mm256_cmp_ps(_mm256_and_ps(v[0], abs_mask), limit, _CMP_NLT_UQ);
        __m256 f1 = _mm256_cmp_ps(_mm256_and_ps(v[1], abs_mask), limit, _CMP_NLT_UQ);
        __m256 f2 = _mm256_cmp_ps(_mm256_and_ps(v[2], abs_mask), limit, _CMP_NLT_UQ);
        __m256 f3 = _mm256_cmp_ps(_mm256_and_ps(v[3], abs_mask), limit, _CMP_NLT_UQ);
        __m256 any = _mm256_or_ps(_mm256_or_ps(f0, f1), _mm256_or_ps(f2, f3));
        if (_mm256_testz_ps(any, any)) {
            continue;
        }
        if (rows4) { /* the whole group, branch-free (its flags are not predictable) */
            __m256i not_anchor = _mm256_sub_epi32(_mm256_set1_epi32(~a), _mm256_setr_epi32(0, 0, 1, 0, 2, 0, 3, 0));
            for (int q = 0; q < 4; q++, not_anchor = _mm256_sub_epi32(not_anchor, _mm256_set1_epi32(4))) {
                bad_lanes = _mm256_or_si256(
                    bad_lanes, _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(v[q]), exponent), exponent));
                above_lanes = _mm256_or_ps(above_lanes, _mm256_cmp_ps(v[q], one, _CMP_GT_OQ));
                count += up_pack_rows4_avx2(v[q], not_anchor, bound, packed + count);
            }
        } else {
            /* bit i: float i of the group (anchor a + i / 2, column i % 2) was flagged */
            uint32_t flagged = (uint32_t)_mm256_movemask_ps(f0) | (uint32_t)_mm256_movemask_ps(f1) << 8 |
                               (uint32_t)_mm256_movemask_ps(f2) << 16 | (uint32_t)_mm256_movemask_ps(f3) << 24;
            for (; flagged; flagged &= flagged - 1u) {
                int32_t i = up_lowest_bit(flagged);
                float x = r[i];
                bad |= (up_bits(x) & 0x7f800000u) == 0x7f800000u;
                if ((i & 1) == c && x >= thr) {
                    *above |= x > 1.0f;
                    int32_t key = up_f32_to_fixed(x, UP_F32_PROB_Q, 0, UP_ONE_SCORE);
                    packed[count++] = (uint64_t)(uint32_t)key << 32 | (uint32_t)~(uint32_t)(a + i / 2);
                }
            }
        }
    }
    bad |= !_mm256_testz_si256(bad_lanes, bad_lanes);
    *above |= !_mm256_testz_ps(above_lanes, above_lanes);
    if (boxes) {
        bad |= !_mm256_testz_si256(_mm256_cmpeq_epi32(box_max, exponent), _mm256_set1_epi32(-1));
        bad |= up_any_nonfinite(boxes + (size_t)a * 4u, (size_t)(n - a) * 4u);
    }
    *nonfinite = bad | up_any_nonfinite(rows + (size_t)a * 2u, (size_t)(n - a) * 2u);
    return up_pack(rows + c, 2, thr, packed, count, a, n, above);
}
#endif

/* Scans the scores of a single-class probability config into src->packed; returns non-zero if a score
 * (any of the num_classes columns) is NaN or Inf. Sets *boxes_checked when the same pass checked the boxes
 * (and then includes them in the result). */
static uint32_t up_scan_packed(up_source_t *src, bool *boxes_checked)
{
    const up_config_t *cfg = src->cfg;
    const float *scores = (const float *)src->scores;
    float thr = up_prob_threshold(src->bound);
    *boxes_checked = false;
#ifdef UP_HOST_X86
    if (src->score_stride == 2 && cfg->num_classes == 2 && __builtin_cpu_supports("avx2")) {
        uint32_t nonfinite = 0;
        const float *boxes = src->box_stride == 4 ? (const float *)src->boxes : 0;
        src->packed_count = up_pack_pairs_avx2(src, scores, boxes, thr, up_prob_q30_bound(thr), src->packed,
                                               &nonfinite, &src->range);
        *boxes_checked = boxes != 0;
        return nonfinite;
    }
#endif
    if (up_rows_nonfinite(scores, cfg->num_anchors, cfg->num_classes, src->score_stride)) {
        return 1;
    }
    src->packed_count = up_pack(scores + src->column, src->score_stride, thr, src->packed, 0, 0,
                                cfg->num_anchors, &src->range);
    return 0;
}

/* Sorts n packed values descending: insertion sort of runs of 16, then bottom-up merges between a and
 * tmp (no recursion). Returns the buffer holding the result. (Measured on real candidate lists: faster
 * than branch-free merging, whose loads wait on each compare, and than radix or rank sorts at these sizes.) */
static uint64_t *up_sort_packed(uint64_t *a, uint64_t *tmp, int32_t n)
{
    for (int32_t lo = 0; lo < n; lo += 16) {
        int32_t hi = lo + 16 < n ? lo + 16 : n;
        for (int32_t i = lo + 1; i < hi; i++) {
            uint64_t v = a[i];
            int32_t j = i;
            for (; j > lo && a[j - 1] < v; j--) {
                a[j] = a[j - 1];
            }
            a[j] = v;
        }
    }
    for (int32_t w = 16; w < n; w *= 2) {
        for (int32_t lo = 0; lo < n; lo += 2 * w) {
            int32_t mid = lo + w < n ? lo + w : n;
            int32_t hi = lo + 2 * w < n ? lo + 2 * w : n;
            int32_t i = lo;
            int32_t j = mid;
            int32_t k = lo;
            while (i < mid && j < hi) {
                tmp[k++] = a[i] >= a[j] ? a[i++] : a[j++];
            }
            while (i < mid) {
                tmp[k++] = a[i++];
            }
            while (j < hi) {
                tmp[k++] = a[j++];
            }
        }
        uint64_t *t = a;
        a = tmp;
        tmp = t;
    }
    return a;
}

#define UP_BUCKETS 256
#define UP_BUCKET_MAX 32
#define UP_BUCKET_SORT_MIN 100 /* fewer candidates: up_sort_packed is faster (measured) */

/* The bucket of a packed value: the top bits of 2^30 - key. */
static inline uint32_t up_bucket_of(uint64_t v, int shift)
{
    return (uint32_t)(UP_ONE_SCORE - (int32_t)(v >> 32)) >> shift;
}

/*
 * Many candidates (a crowd): a counting sort on the top bits of 2^30 - key (UP_BUCKETS buckets over the keys
 * above bound, stable, so anchors stay ascending within a bucket), then one insertion pass that orders each
 * bucket. Returns tmp holding the result, or NULL, leaving a as it was, when a bucket holds more than
 * UP_BUCKET_MAX values (keys bunched up: the merge sort is then the better bound).
 */
static uint64_t *up_bucket_sort_packed(const uint64_t *a, uint64_t *tmp, int32_t n, int32_t bound)
{
    uint32_t range = (uint32_t)(UP_ONE_SCORE - bound); /* 2^30 - key < range for every packed key */
    int shift = 0;
    while ((range - 1u) >> shift >= UP_BUCKETS) {
        shift++;
    }
    int32_t start[UP_BUCKETS];
    for (int b = 0; b < UP_BUCKETS; b++) {
        start[b] = 0;
    }
    for (int32_t i = 0; i < n; i++) {
        start[up_bucket_of(a[i], shift)]++;
    }
    int32_t sum = 0;
    for (int b = 0; b < UP_BUCKETS; b++) {
        int32_t c = start[b];
        if (c > UP_BUCKET_MAX) {
            return 0;
        }
        start[b] = sum;
        sum += c;
    }
    for (int32_t i = 0; i < n; i++) {
        tmp[start[up_bucket_of(a[i], shift)]++] = a[i];
    }
    for (int32_t i = 1; i < n; i++) { /* moves stay within a bucket */
        uint64_t v = tmp[i];
        int32_t j = i;
        for (; j > 0 && tmp[j - 1] < v; j--) {
            tmp[j] = tmp[j - 1];
        }
        tmp[j] = v;
    }
    return tmp;
}

/* The best candidate_limit of count packed candidates, in keep order, into cand (and their keys). */
static void up_take_packed(const up_source_t *src, int32_t count, int32_t qbound, up_candidates_t *cand)
{
    const uint64_t *p = 0;
    if (count >= UP_BUCKET_SORT_MIN) {
        p = up_bucket_sort_packed(src->packed, src->packed_tmp, count, qbound);
    }
    if (!p) {
        p = up_sort_packed(src->packed, src->packed_tmp, count);
    }
    int32_t n = count < cand->limit ? count : cand->limit;
    for (int32_t i = 0; i < n; i++) {
        int32_t anchor = (int32_t)~(uint32_t)p[i];
        cand->idx[i] = anchor;
        src->keys[anchor] = (int32_t)(p[i] >> 32);
    }
    cand->count = n;
    cand->heap = false;
    cand->ordered = true;
}

#ifdef UP_HOST_X86
/* up_f32_to_fixed on 4 values at once, the same double arithmetic: clamping first gives the same result
 * (floor(lo + 0.5) = lo, floor(hi + 0.5) = hi). */
__attribute__((target("avx2"))) static inline __m128i up_load4_avx2(const float *row)
{
    __m256d v = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(row)), _mm256_set1_pd((double)(1 << UP_F32_VALUE_Q)));
    v = _mm256_min_pd(_mm256_max_pd(v, _mm256_set1_pd(-(double)UP_F32_VALUE_LIMIT)),
                      _mm256_set1_pd((double)UP_F32_VALUE_LIMIT));
    return _mm256_cvtpd_epi32(_mm256_floor_pd(_mm256_add_pd(v, _mm256_set1_pd(0.5))));
}

__attribute__((target("avx2"))) static void up_fetch4_avx2(const float *row, int32_t *raw)
{
    _mm_storeu_si128((__m128i *)raw, up_load4_avx2(row));
}
#endif

void up_host_fetch(const up_source_t *src, const void *base, int32_t stride, int32_t anchor,
                         int32_t n, int32_t *raw)
{
    (void)src;
    const float *row = (const float *)base + (size_t)anchor * (size_t)stride;
#ifdef UP_HOST_X86
    if (n == 4 && __builtin_cpu_supports("avx2")) {
        up_fetch4_avx2(row, raw);
        return;
    }
#endif
    for (int32_t k = 0; k < n; k++) {
        raw[k] = up_f32_to_fixed(row[k], UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT);
    }
}

/*
 * Kept boxes for the overlap pre-test, in blocks of 16 (max_detections rounded up): per block, UP_KEPT_COLS
 * int16 columns of 16: x1, y1, x2 + pad_x, y2 + pad_y, and the smallest padded intersection width and height
 * that can still give IoU > t with that box. Int16 halves the vector steps; each value is rounded outwards from
 * Q20 by UP_KEPT_SHIFT bits (x1 and the bounds down, x2 + pad up), so the test stays a necessary condition
 * (see up_min_overlap). Ranges: corners within +-4.0 (UP_BOX_LIMIT) and pads at most 1.0 give x1 in
 * [-8192, 8192], x2 + pad in [-8192, 10240] and bounds below 18432, so differences fit in int16.
 */
#define UP_KEPT_COLS 6
#define UP_KEPT_ROWS 16
#define UP_KEPT_BLOCK (UP_KEPT_COLS * UP_KEPT_ROWS)
#define UP_KEPT_SHIFT 9

static int32_t up_kept_rows(const up_config_t *cfg)
{
    return (cfg->max_detections + UP_KEPT_ROWS - 1) & ~(UP_KEPT_ROWS - 1);
}

/* The blocks, plus room to start them 32-byte aligned wherever the caller's scratch lies: a 256-bit load of a
 * block column then never splits a cache line (measured: 5% of the whole run on a dense photo). */
size_t up_host_kept_bytes(const up_config_t *cfg)
{
    return (size_t)UP_KEPT_COLS * (size_t)up_kept_rows(cfg) * sizeof(int16_t) + 31u;
}

int16_t *up_host_kept_blocks(const up_config_t *cfg, void *scratch)
{
    uintptr_t at = (uintptr_t)scratch + up_scratch_bytes(cfg);
    return (int16_t *)((at + 31u) & ~(uintptr_t)31u);
}

size_t up_host_scratch_size(const up_config_t *cfg)
{
    return up_check_config(cfg) == UP_OK ? up_scratch_bytes(cfg) + up_host_kept_bytes(cfg) : 0;
}

/* F32 scratch: the core's, the kept boxes in blocks, one key per anchor, then two packed candidate
 * buffers of one uint64 per anchor (8-byte aligned). */
static size_t up_keys_offset(const up_config_t *cfg)
{
    return (up_scratch_bytes(cfg) + up_host_kept_bytes(cfg) + 7u) & ~(size_t)7u;
}

static size_t up_packed_offset(const up_config_t *cfg)
{
    return (up_keys_offset(cfg) + (size_t)cfg->num_anchors * sizeof(int32_t) + 7u) & ~(size_t)7u;
}

size_t up_scratch_size_f32(const up_config_t *cfg)
{
    if (up_check_config(cfg) != UP_OK) {
        return 0;
    }
    return up_packed_offset(cfg) + 2u * (size_t)cfg->num_anchors * sizeof(uint64_t);
}

/*
 * The overlap pre-test. With iw = min(a.x2, b.x2) + pad_x - max(a.x1, b.x1) (and ih likewise), IoU(a, b) > t
 * needs iw * 2^16 > t_q16 * w(a), w the padded width: the union is at least a's area w(a) * h(a), and the
 * intersection at most iw * h(a). The same holds for b, and for heights. So only pairs with iw above
 * floor(t_q16 * w / 2^16) for both boxes (and ih likewise) go on to up_iou_exceeds, which decides; in a crowd,
 * this leaves out the neighbours whose boxes merely touch. In the blocks' rounded units, iw can only grow and
 * the bounds only shrink, so no pair that needs the exact test is left out.
 */
static inline int32_t up_min_overlap(const up_config_t *cfg, int32_t lo, int32_t hi, int32_t pad)
{
    return (int32_t)(((int64_t)cfg->iou_q16 * up_extent(lo, hi, pad)) >> 16); /* extents stay below 2^24 */
}

static inline int16_t up_kept_floor(int32_t v)
{
    return (int16_t)(v >> UP_KEPT_SHIFT); /* arithmetic shift: floor */
}

static inline int16_t up_kept_ceil(int32_t v)
{
    return (int16_t)-((-v) >> UP_KEPT_SHIFT);
}

/* A box as a row of the pre-test's columns (see UP_KEPT_COLS). */
static inline void up_kept_row(const up_config_t *cfg, const int32_t *box, int16_t row[UP_KEPT_COLS])
{
    row[0] = up_kept_floor(box[0]);
    row[1] = up_kept_floor(box[1]);
    row[2] = up_kept_ceil(box[2] + cfg->pad_x_q20);
    row[3] = up_kept_ceil(box[3] + cfg->pad_y_q20);
    row[4] = up_kept_floor(up_min_overlap(cfg, box[0], box[2], cfg->pad_x_q20));
    row[5] = up_kept_floor(up_min_overlap(cfg, box[1], box[3], cfg->pad_y_q20));
}

/* Whether box (its pre-test row in c) is suppressed by any of the kept boxes [0, kept). */
static bool up_suppressed_portable(const up_config_t *cfg, const int16_t *blocks, int32_t kept, const int16_t *c,
                                   const int32_t *box, const int32_t *kept_boxes)
{
    for (int32_t j = 0; j < kept; j++) {
        /* column c of row j at k[UP_KEPT_ROWS * c] */
        const int16_t *k = blocks + (size_t)(j / UP_KEPT_ROWS) * UP_KEPT_BLOCK + j % UP_KEPT_ROWS;
        int32_t iw = up_min32(k[UP_KEPT_ROWS * 2], c[2]) - up_max32(k[0], c[0]);
        int32_t ih = up_min32(k[UP_KEPT_ROWS * 3], c[3]) - up_max32(k[UP_KEPT_ROWS * 1], c[1]);
        if (iw > up_max32(k[UP_KEPT_ROWS * 4], c[4]) && ih > up_max32(k[UP_KEPT_ROWS * 5], c[5]) &&
            up_iou_exceeds(cfg, box, kept_boxes + (size_t)j * 4u)) {
            return true;
        }
    }
    return false;
}

#ifdef UP_HOST_X86
/* Lane k of a row of int16 in every lane (a byte shuffle: no round trip through memory, which would lengthen the
 * path from a box to its decision). */
#define UP_LANE16(k) _mm256_setr_epi8(2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), \
    2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), \
    2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), \
    2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1)

/* The same, 16 kept boxes per step over whole blocks (unused rows hold UP_KEPT_EMPTY); row: the candidate's
 * pre-test row in lanes 0..5. */
__attribute__((target("avx2"))) static bool up_suppressed_avx2(const up_config_t *cfg, const int16_t *blocks,
                                                                 int32_t kept, __m128i row, const int32_t *box,
                                                                 const int32_t *kept_boxes)
{
    __m256i both = _mm256_broadcastsi128_si256(row);
    __m256i c0 = _mm256_shuffle_epi8(both, UP_LANE16(0));
    __m256i c1 = _mm256_shuffle_epi8(both, UP_LANE16(1));
    __m256i c2 = _mm256_shuffle_epi8(both, UP_LANE16(2));
    __m256i c3 = _mm256_shuffle_epi8(both, UP_LANE16(3));
    __m256i c4 = _mm256_shuffle_epi8(both, UP_LANE16(4));
    __m256i c5 = _mm256_shuffle_epi8(both, UP_LANE16(5));
    const __m256i *k = (const __m256i *)blocks;
    for (int32_t j0 = 0; j0 < kept; j0 += UP_KEPT_ROWS, k += UP_KEPT_COLS) {
        __m256i iw = _mm256_sub_epi16(_mm256_min_epi16(_mm256_load_si256(k + 2), c2),
                                      _mm256_max_epi16(_mm256_load_si256(k), c0));
        __m256i ih = _mm256_sub_epi16(_mm256_min_epi16(_mm256_load_si256(k + 3), c3),
                                      _mm256_max_epi16(_mm256_load_si256(k + 1), c1));
        __m256i hit = _mm256_and_si256(_mm256_cmpgt_epi16(iw, _mm256_max_epi16(_mm256_load_si256(k + 4), c4)),
                                       _mm256_cmpgt_epi16(ih, _mm256_max_epi16(_mm256_load_si256(k + 5), c5)));
        /* two mask bits per int16 lane: keep the low one */
        unsigned mask = (unsigned)_mm256_movemask_epi8(hit) & 0x55555555u;
        for (; mask; mask &= mask - 1u) {
            if (up_iou_exceeds(cfg, box, kept_boxes + (size_t)(j0 + up_lowest_bit(mask) / 2) * 4u)) {
                return true;
            }
        }
    }
    return false;
}
#endif

#ifdef UP_HOST_X86
/*
 * Batch decode of float32 boxes (corners are only clamped). Ultraface deltas go 8 (or 4) candidates per step in
 * 64-bit lanes through the same integer steps as up_decode and up_exp_q20, so the same bits (the tests compare with
 * the golden model). Converted deltas are within +-2^30 and var_center, var_size <= 2^30, so the products fit and
 * up_decode's saturations to int32 never act; they are left out. AVX2 has no 64-bit arithmetic shift: every
 * signed value shifted here is below 2^62 in magnitude (products of int32 and a value within 2^30), so x + 2^62
 * is >= 0, a logical shift gives floor(x / 2^n) + 2^(62 - n) exactly, and the offset comes off after.
 */
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
__attribute__((target("avx2"))) static inline UP_ALWAYS_INLINE void up_decode_step_avx2(const up_source_t *src,
                                                                                   const int32_t *idx,
                                                                                   int groups, int32_t *boxes)
{
    const up_config_t *cfg = src->cfg;
    const float *rows = (const float *)src->boxes;
    const size_t stride = (size_t)src->box_stride;
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
    UP_EACH(2 * groups) {
        __m256i pw = _mm256_cvtepi32_epi64(p[j / 2][j % 2 + 2]);
        __m256i center = _mm256_add_epi64(_mm256_cvtepi32_epi64(p[j / 2][j % 2]),
                                          up_rsr64(_mm256_mul_epi32(c[j], pw), 20));
        __m256i half = up_rsr64u(up_rsr64u(_mm256_mul_epu32(e[j], pw), 20), 1);
        corner[j / 2][j % 2] = up_low32(up_clamp64(_mm256_sub_epi64(center, half), lo, hi));
        corner[j / 2][j % 2 + 2] = up_low32(up_clamp64(_mm256_add_epi64(center, half), lo, hi));
    }
    for (int h = 0; h < groups; h++) {
        __m128i out[4];
        up_transpose4(corner[h][0], corner[h][1], corner[h][2], corner[h][3], out);
        for (int q = 0; q < 4; q++) {
            _mm_storeu_si128((__m128i *)(boxes + (size_t)(4 * h + q) * 4u), out[q]);
        }
    }
}

/* Boxes ([n][4] Q20) of candidates idx[0, n) from float32 rows, for every box kind. */
__attribute__((target("avx2"))) static void up_decode_batch_avx2(const up_source_t *src, const int32_t *idx,
                                                                    int32_t n, int32_t *boxes)
{
    const up_config_t *cfg = src->cfg;
    const float *rows = (const float *)src->boxes;
    int32_t i = 0;
    if (cfg->box_kind == UP_BOX_CORNERS) { /* corners as given, clamped */
        __m128i lo4 = _mm_set1_epi32(cfg->clip ? 0 : -UP_BOX_LIMIT);
        __m128i hi4 = _mm_set1_epi32(cfg->clip ? UP_ONE_BOX : UP_BOX_LIMIT);
        __m128i out = _mm_setzero_si128(); /* lanes beyond +-4: an error without clip (see up_decode) */
        for (; i < n; i++) {
            __m128i v = up_load4_avx2(rows + (size_t)idx[i] * (size_t)src->box_stride);
            out = _mm_or_si128(out, _mm_or_si128(_mm_cmpgt_epi32(v, hi4), _mm_cmpgt_epi32(lo4, v)));
            _mm_storeu_si128((__m128i *)(boxes + (size_t)i * 4u), _mm_min_epi32(_mm_max_epi32(v, lo4), hi4));
        }
        if (!cfg->clip && !_mm_testz_si128(out, out)) {
            up_out_of_range(src);
        }
        return;
    }
    for (; cfg->box_kind == UP_BOX_DELTAS && i + 8 <= n; i += 8) {
        up_decode_step_avx2(src, idx + i, 2, boxes + (size_t)i * 4u);
    }
    if (cfg->box_kind == UP_BOX_DELTAS && i + 4 <= n) {
        up_decode_step_avx2(src, idx + i, 1, boxes + (size_t)i * 4u);
        i += 4;
    }
    for (; i < n; i++) { /* the last 1 to 3 deltas, and linear (BlazeFace) boxes */
        int32_t raw[4];
        up_fetch4_avx2(rows + (size_t)idx[i] * (size_t)src->box_stride, raw);
        if (up_decode_raw(cfg, idx[i], raw, boxes + (size_t)i * 4u)) {
            up_out_of_range(src);
        }
    }
}
#endif

/* Unused rows of a block of kept boxes hold x1 = y1 = this and x2 + pad = y2 + pad = -this: their iw and ih
 * are -24576 for every box (rounded corners within [-8192, 10240]), so they overlap nothing. */
#define UP_KEPT_EMPTY ((int16_t)12288)
static const int16_t up_kept_empty[UP_KEPT_COLS] = {UP_KEPT_EMPTY, UP_KEPT_EMPTY, -UP_KEPT_EMPTY, -UP_KEPT_EMPTY,
                                                    0, 0};

#ifdef UP_HOST_X86
/* up_kept_row in one vector: corners (+ pads) shifted with floor (x1, y1) or ceil (x2, y2), and the smallest
 * overlaps floor(floor(t_q16 * extent / 2^16) / 2^9) = t_q16 * extent >> 25 (both >= 0); every value fits int16
 * (see UP_KEPT_COLS), so the saturating pack only narrows. Returns the row's 6 int16 in lanes 0..5. */
__attribute__((target("avx2"))) static inline __m128i up_kept_row_avx2(const up_config_t *cfg, __m128i box)
{
    __m128i v = _mm_add_epi32(box, _mm_setr_epi32(0, 0, cfg->pad_x_q20, cfg->pad_y_q20));
    __m128i lo = _mm_srai_epi32(v, UP_KEPT_SHIFT);
    __m128i hi = _mm_sub_epi32(_mm_setzero_si128(), _mm_srai_epi32(_mm_sub_epi32(_mm_setzero_si128(), v),
                                                                  UP_KEPT_SHIFT));
    __m128i corners = _mm_blend_epi32(lo, hi, 0xC);
    /* extents x2 + pad - x1, y2 + pad - y1 in lanes 0 and 2 (where mul_epu32 reads), clipped at 0 */
    __m128i ext = _mm_max_epi32(_mm_sub_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(3, 3, 3, 2)),
                                              _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 1, 0))),
                                _mm_setzero_si128());
    ext = _mm_shuffle_epi32(ext, _MM_SHUFFLE(1, 1, 0, 0));
    __m128i overlap = _mm_srli_epi64(_mm_mul_epu32(ext, _mm_set1_epi32(cfg->iou_q16)), UP_KEPT_SHIFT + 16);
    overlap = _mm_shuffle_epi32(overlap, _MM_SHUFFLE(2, 2, 2, 0));
    return _mm_packs_epi32(corners, overlap);
}
#endif

/* Hard NMS with up_nms_hard's decisions; kept boxes are tested 16 at a time (whole blocks, see UP_KEPT_EMPTY).
 * Inlined into an AVX2 and a portable variant, so that the AVX2 one inlines its vector steps. */
static inline UP_ALWAYS_INLINE int32_t up_host_nms_hard_body(const up_source_t *src, const up_candidates_t *cand,
                                                             up_output_t *out, bool avx2)
{
    (void)avx2; /* only x86 builds have a vector variant */
    const up_config_t *cfg = src->cfg;
    int32_t m = cfg->max_detections;
    int16_t *blocks = src->kept_blocks;
    int32_t kept = 0;
    /* int32 or float32 probabilities (score = key) without keypoints: the output row is written here, as up_emit
     * would, without its two calls into the firmware files (kept out of line there for size; 0.15 us of the
     * densest photo's 4.8 here) */
    bool plain = cfg->num_keypoints == 0 && cfg->score_kind == UP_SCORE_PROB && cfg->input_kind != UP_INPUT_S8;
    /* float32 rows: candidates decoded ahead, 32 at a time (deltas 8 per vector step), into the packed buffers
     * (free once the candidates are in cand) */
#ifdef UP_HOST_X86
    int32_t *decoded = 0;
    int32_t ready = 0;
    if (avx2 && src->packed) {
        decoded = (int32_t *)src->packed;
    }
#endif
    int32_t i = 0;
    for (; i < cand->count && kept < m; i++) {
        int32_t anchor = cand->idx[i];
        int32_t own[4];
        const int32_t *box = own;
        int16_t row[8]; /* UP_KEPT_COLS used; 8 for the vector store of a whole row */
#ifdef UP_HOST_X86
        if (decoded) {
            if (i == ready) {
                int32_t block = cand->count - i < 32 ? cand->count - i : 32;
                up_decode_batch_avx2(src, cand->idx + i, block, decoded + (size_t)i * 4u);
                ready += block;
            }
            box = decoded + (size_t)i * 4u;
        } else
#endif
        {
            up_box_of(src, anchor, own);
        }
        bool suppressed;
#ifdef UP_HOST_X86
        if (avx2) {
            __m128i r = up_kept_row_avx2(cfg, _mm_loadu_si128((const __m128i *)box));
            suppressed = up_suppressed_avx2(cfg, blocks, kept, r, box, out->boxes);
            _mm_storeu_si128((__m128i *)row, r);
        } else
#endif
        {
            up_kept_row(cfg, box, row);
            suppressed = up_suppressed_portable(cfg, blocks, kept, row, box, out->boxes);
        }
        if (!suppressed) {
            if (plain) {
                for (int k = 0; k < 4; k++) {
                    out->boxes[(size_t)kept * 4u + (size_t)k] = box[k];
                }
                out->scores[kept] = up_key(src, anchor);
                out->anchors[kept] = anchor;
            } else {
                up_emit(src, out, kept, anchor, box, up_score_of_key(cfg, up_key(src, anchor)));
            }
            int16_t *blk = blocks + (size_t)(kept / UP_KEPT_ROWS) * UP_KEPT_BLOCK;
            int32_t r = kept % UP_KEPT_ROWS;
            if (r == 0) {
                for (int k = 0; k < UP_KEPT_COLS; k++) {
                    for (int32_t j = 0; j < UP_KEPT_ROWS; j++) {
                        blk[UP_KEPT_ROWS * k + j] = up_kept_empty[k];
                    }
                }
            }
            for (int k = 0; k < UP_KEPT_COLS; k++) {
                blk[UP_KEPT_ROWS * k + r] = row[k];
            }
            kept++;
        }
    }
    up_check_corners(src, cand, i); /* the candidates not reached (float32 rows: converted by up_read_row) */
    out->count = kept;
    return UP_OK;
}

#ifdef UP_HOST_X86
__attribute__((target("avx2"))) static int32_t up_host_nms_hard_avx2(const up_source_t *src,
                                                                       const up_candidates_t *cand,
                                                                       up_output_t *out)
{
    return up_host_nms_hard_body(src, cand, out, true);
}
#endif

int32_t up_host_nms_hard(const up_source_t *src, const up_candidates_t *cand, up_output_t *out)
{
#ifdef UP_HOST_X86
    if (__builtin_cpu_supports("avx2")) {
        return up_host_nms_hard_avx2(src, cand, out);
    }
#endif
    return up_host_nms_hard_body(src, cand, out, false);
}

/* Converts the keys of column src->column and pushes the anchors passing src->bound. */
void up_host_select(const up_source_t *src, up_candidates_t *cand)
{
    const up_config_t *cfg = src->cfg;
    const float *scores = (const float *)src->scores;
    int32_t score_stride = src->score_stride;
    int32_t n = cfg->num_anchors;
    int32_t c = src->column;
    int32_t *keys = src->keys;
    if (cfg->score_kind == UP_SCORE_PROB) {
        /* packed and sorted once; a single class was scanned already, with the scores' finiteness */
        float thr = up_prob_threshold(src->bound);
        uint32_t above = 0;
        int32_t count = src->packed_count >= 0 ? src->packed_count
                                               : up_pack(scores + c, score_stride, thr, src->packed, 0, 0, n, &above);
        if (above) {
            up_out_of_range(src);
        }
        up_take_packed(src, count, up_prob_q30_bound(thr), cand);
        return;
    }
    for (int32_t a = 0; a < n; a++) {
        const float *s = scores + (size_t)a * (size_t)score_stride;
        int32_t key;
        int32_t l1 = up_f32_to_fixed(s[c], UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT);
        if (cfg->score_kind == UP_SCORE_LOGIT1) {
            key = up_clip_logit(cfg, l1);
        } else {
            int32_t l0 = up_f32_to_fixed(s[1 - c], UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT);
            key = up_sat32((int64_t)l1 - l0);
        }
        if (key > src->bound) {
            keys[a] = key;
            up_candidates_push(src, cand, a);
        }
    }
}

int32_t up_run_f32_keypoints(const up_config_t *cfg, const float *scores, int32_t score_stride,
                             const float *boxes, int32_t box_stride, const float *keypoints,
                             int32_t keypoint_stride, void *scratch, size_t scratch_size,
                             up_output_t *out)
{
    int32_t status = up_check_config(cfg);
    if (status != UP_OK) {
        return status;
    }
    if (cfg->input_kind != UP_INPUT_F32) {
        return UP_ERR_CONFIG;
    }
    if (!scores || !boxes || (cfg->num_keypoints > 0 && !keypoints)) {
        return UP_ERR_NULL;
    }
    status = up_check_run(cfg, score_stride, box_stride, keypoint_stride, scratch_size,
                          up_scratch_size_f32(cfg), scratch, out);
    if (status != UP_OK) {
        return status;
    }
    int32_t n = cfg->num_anchors;
    int32_t *keys = (int32_t *)((char *)scratch + up_keys_offset(cfg));
    if (cfg->num_keypoints > 0 && up_rows_nonfinite(keypoints, n, 2 * cfg->num_keypoints, keypoint_stride)) {
        return UP_ERR_NONFINITE;
    }
    uint64_t *packed = (uint64_t *)((char *)scratch + up_packed_offset(cfg));
    up_source_t src = {cfg, scores, score_stride, boxes, box_stride, keypoints, keypoint_stride,
                       cfg->class_index, cfg->score_bound, 0u, keys,
                       up_host_kept_blocks(cfg, scratch), packed, packed + n, -1};
    uint32_t nonfinite;
    bool boxes_checked = false;
    if (cfg->score_kind == UP_SCORE_PROB && cfg->num_labels == 0) {
        /* one class of probabilities: the score pass also checks the scores, and maybe the boxes */
        nonfinite = up_scan_packed(&src, &boxes_checked);
    } else {
        nonfinite = up_rows_nonfinite(scores, n, cfg->num_classes, score_stride);
    }
    if (nonfinite || (!boxes_checked && up_rows_nonfinite(boxes, n, 4, box_stride))) {
        return UP_ERR_NONFINITE;
    }
    return up_run_source(&src, scratch, out);
}

int32_t up_run_f32(const up_config_t *cfg, const float *scores, int32_t score_stride,
                   const float *boxes, int32_t box_stride, void *scratch, size_t scratch_size,
                   up_output_t *out)
{
    const float *kp = 0;
    if (cfg && boxes && cfg->num_keypoints > 0) {
        if (box_stride < 4 + 2 * cfg->num_keypoints) {
            return UP_ERR_STRIDE;
        }
        kp = boxes + 4;
    }
    return up_run_f32_keypoints(cfg, scores, score_stride, boxes, box_stride, kp, box_stride, scratch,
                                scratch_size, out);
}
