/*
 * Float32 selection, standing in for the core's up_select and up_candidates_sort: the score test on float32 scores
 * and the best candidate_limit candidates in keep order. Passing candidates are packed as key << 32 | ~anchor, so
 * that one descending sort of the values is keep order (key descending, then anchor ascending). A single class of
 * probabilities (the common case) is scanned once, with the NaN / Inf check, and vectorized where the CPU can.
 */
#include "up_host_internal.h"

#include <float.h>

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
    return up_f32_fixed(thr, UP_F32_PROB_Q, 0, UP_ONE_SCORE) - 1;
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
        if (UP_UNLIKELY(v >= thr)) { /* few pass: the loop over the rest stays a few instructions long */
            *above |= v > 1.0f;
            int32_t key = up_f32_fixed(v, UP_F32_PROB_Q, 0, UP_ONE_SCORE);
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
 * may write 3 values past the count: into the sort buffer, which follows.
 * With boxes (rows of 4 floats, or NULL), the same pass reads their 16 rows per step too (their largest |x| bits
 * into *box_bits): one pass over both tensors instead of two, and the box loads overlap the scores' rare exact
 * checks.
 */
__attribute__((target("avx2"))) static int32_t up_pack_pairs_avx2(const up_config_t *cfg, const float *rows,
                                                                    const float *boxes, float thr,
                                                                    int32_t qbound, uint64_t *packed,
                                                                    uint32_t *nonfinite, uint32_t *above,
                                                                    uint32_t *box_bits)
{
    int32_t n = cfg->num_anchors;
    int32_t c = cfg->class_index;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i exponent = _mm256_set1_epi32(0x7f800000);
    const __m256i abs_bits = _mm256_set1_epi32(0x7fffffff);
    __m256i box_max = _mm256_setzero_si256(); /* unsigned max of the boxes' |x| bits (up_host_max_abs_bits) */
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
                box_max = _mm256_max_epu32(box_max, _mm256_and_si256(_mm256_loadu_si256(b + q), abs_bits));
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
                    int32_t key = up_f32_fixed(x, UP_F32_PROB_Q, 0, UP_ONE_SCORE);
                    packed[count++] = (uint64_t)(uint32_t)key << 32 | (uint32_t)~(uint32_t)(a + i / 2);
                }
            }
        }
    }
    bad |= !_mm256_testz_si256(bad_lanes, bad_lanes);
    *above |= !_mm256_testz_ps(above_lanes, above_lanes);
    if (boxes) {
        uint32_t lanes[8];
        _mm256_storeu_si256((__m256i *)lanes, box_max);
        uint32_t m = up_host_max_abs_bits(boxes + (size_t)a * 4u, (size_t)(n - a) * 4u);
        for (int q = 0; q < 8; q++) {
            m = lanes[q] > m ? lanes[q] : m;
        }
        *box_bits = m;
    }
    *nonfinite = bad | (up_host_max_abs_bits(rows + (size_t)a * 2u, (size_t)(n - a) * 2u) >= UP_F32_INF_BITS);
    return up_pack(rows + c, 2, thr, packed, count, a, n, above);
}
#endif

#ifdef UP_HOST_NEON
/* [N, 2] rows, 8 anchors at a time: a vector test of p >= thr in column c (the exact test, as up_pack makes it;
 * NaN fails it), then up_pack on the rare groups where it holds. The rows were checked for NaN and Inf. */
static int32_t up_pack_pairs_neon(const float *rows, int32_t c, float thr, uint64_t *packed, int32_t n,
                                  uint32_t *above)
{
    float32x4_t t = vdupq_n_f32(thr);
    int32_t count = 0;
    int32_t a = 0;
    for (; a + 8 <= n; a += 8) {
        float32x4x2_t r0 = vld2q_f32(rows + 2 * (size_t)a);
        float32x4x2_t r1 = vld2q_f32(rows + 2 * (size_t)a + 8);
        uint32x4_t pass = vorrq_u32(vcgeq_f32(c ? r0.val[1] : r0.val[0], t), vcgeq_f32(c ? r1.val[1] : r1.val[0], t));
        if (UP_UNLIKELY(vmaxvq_u32(pass) != 0)) {
            count = up_pack(rows + c, 2, thr, packed, count, a, a + 8, above);
        }
    }
    return up_pack(rows + c, 2, thr, packed, count, a, n, above);
}
#endif

/* The scores (any of the num_classes columns) are checked for NaN and Inf in the same pass. */
uint32_t up_host_scan_packed(up_host_source_t *h, bool *boxes_checked, uint32_t *box_bits)
{
    (void)box_bits; /* set only where the vector pass reads the boxes */
    const up_config_t *cfg = h->cfg;
    float thr = up_prob_threshold(cfg->score_bound);
    *boxes_checked = false;
#ifdef UP_HOST_X86
    if (h->score_stride == 2 && cfg->num_classes == 2 && __builtin_cpu_supports("avx2")) {
        uint32_t nonfinite = 0;
        const float *boxes = h->box_stride == 4 ? h->boxes : 0;
        h->packed_count = up_pack_pairs_avx2(cfg, h->scores, boxes, thr, up_prob_q30_bound(thr), h->packed,
                                             &nonfinite, &h->src.range, box_bits);
        *boxes_checked = boxes != 0;
        return nonfinite;
    }
#endif
    if (up_host_rows_max_abs_bits(h->scores, cfg->num_anchors, cfg->num_classes, h->score_stride) >=
        UP_F32_INF_BITS) {
        return 1;
    }
#ifdef UP_HOST_NEON
    if (h->score_stride == 2 && cfg->num_classes == 2) {
        h->packed_count = up_pack_pairs_neon(h->scores, cfg->class_index, thr, h->packed, cfg->num_anchors,
                                             &h->src.range);
        return 0;
    }
#endif
    h->packed_count = up_pack(h->scores + cfg->class_index, h->score_stride, thr, h->packed, 0, 0, cfg->num_anchors,
                              &h->src.range);
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

/* A packed value of any int32 key: its sign bit flipped keeps the order of keys as unsigned values. */
static inline uint64_t up_pack_signed(int32_t key, int32_t anchor)
{
    return (uint64_t)((uint32_t)key ^ 0x80000000u) << 32 | (uint32_t)~(uint32_t)anchor;
}

/* The best candidate_limit of count packed candidates, in keep order, into cand (and their keys). signed_keys:
 * packed by up_pack_signed, else probability keys as they are (what the bucket sort takes). */
static void up_take_packed(const up_host_source_t *h, int32_t count, int32_t qbound, bool signed_keys,
                           up_candidates_t *cand)
{
    const uint64_t *p = 0;
    uint64_t *tmp = h->packed + h->cfg->num_anchors;
    uint32_t flip = signed_keys ? 0x80000000u : 0u;
    if (count >= UP_BUCKET_SORT_MIN && !signed_keys) {
        p = up_bucket_sort_packed(h->packed, tmp, count, qbound);
    }
    if (!p) {
        p = up_sort_packed(h->packed, tmp, count);
    }
    int32_t n = count < cand->limit ? count : cand->limit;
    for (int32_t i = 0; i < n; i++) {
        int32_t anchor = (int32_t)~(uint32_t)p[i];
        cand->idx[i] = anchor;
        h->keys[anchor] = (int32_t)((uint32_t)(p[i] >> 32) ^ flip);
    }
    cand->count = n;
    cand->heap = false;
}

/* The candidates the core's up_select holds (the best candidate_limit, in anchor order or a heap) sorted as packed
 * values, their keys read by the core: standing in for up_candidates_sort, whose generic key reads cost more. */
void up_host_sort_held(const up_host_source_t *h, up_candidates_t *cand)
{
    uint64_t *packed = h->packed;
    for (int32_t i = 0; i < cand->count; i++) {
        packed[i] = up_pack_signed(up_key(&h->src, cand->idx[i]), cand->idx[i]);
    }
    const uint64_t *p = up_sort_packed(packed, packed + cand->limit, cand->count);
    for (int32_t i = 0; i < cand->count; i++) {
        cand->idx[i] = (int32_t)~(uint32_t)p[i];
    }
    cand->heap = false;
}

/* The order-preserving key of a float32 (ultrapost.h: F32 PROB bounds; -0.0 keys as 0.0). */
static inline int32_t up_f32_order_key(float x)
{
    uint32_t b = up_bits(x);
    return b >> 31 ? -(int32_t)(b & 0x7fffffffu) : (int32_t)b;
}

/* The exact two-logit test (up_host.h: LOGIT2 words): the float64 bracket and the integer F. */
typedef struct {
    double lo, hi;
    uint64_t f[3]; /* 192-bit two's complement, least significant limb first */
} up_logit2_test_t;

static double up_double_of_words(const int32_t *w)
{
    union {
        uint64_t u;
        double d;
    } v;
    v.u = (uint64_t)(uint32_t)w[0] | (uint64_t)(uint32_t)w[1] << 32;
    return v.d;
}

static void up_logit2_test_read(const int32_t *w, up_logit2_test_t *t)
{
    t->lo = up_double_of_words(w);
    t->hi = up_double_of_words(w + 2);
    for (int i = 0; i < 3; i++) {
        t->f[i] = (uint64_t)(uint32_t)w[4 + 2 * i] | (uint64_t)(uint32_t)w[5 + 2 * i] << 32;
    }
}

/* x * 2^149 as a 192-bit two's complement integer (float32 values are multiples of 2^-149). For |x| <= 1024 (the
 * runs that reach the score test) it is below 2^160; larger exponents are capped so that no limb is out of reach. */
static void up_f32_scaled(float x, uint64_t v[3])
{
    uint32_t b = up_bits(x);
    uint32_t e = (b >> 23) & 0xffu;
    uint64_t m = b & 0x7fffffu;
    uint32_t shift = 0; /* x = m * 2^(shift - 149) */
    if (e) {
        m |= 0x800000u;
        shift = (e > 137u ? 137u : e) - 1u; /* 2^10 = 1024 has e = 137 */
    }
    uint32_t w = shift >> 6;
    uint32_t r = shift & 63u;
    v[0] = v[1] = v[2] = 0;
    v[w] = m << r;
    if (r > 40u && w < 2u) { /* m has 24 bits: the top ones spill into the next limb */
        v[w + 1] = m >> (64u - r);
    }
    if (b >> 31) { /* negate: invert, add one */
        uint64_t carry = 1;
        for (int i = 0; i < 3; i++) {
            v[i] = ~v[i] + carry;
            carry = carry && v[i] == 0;
        }
    }
}

/* a -= b over 192-bit two's complement integers. */
static void up_sub192(uint64_t a[3], const uint64_t b[3])
{
    uint64_t borrow = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t d = a[i] - b[i];
        uint64_t next = a[i] < b[i];
        next |= d < borrow;
        a[i] = d - borrow;
        borrow = next;
    }
}

/* (x1 - x0) * 2^149 > F, in 192-bit integers: the difference is at most 2^161 and |F| <= 2^180, so D - F fits. */
static bool up_logit2_exact(float x1, float x0, const uint64_t f[3])
{
    uint64_t a[3];
    uint64_t b[3];
    up_f32_scaled(x1, a);
    up_f32_scaled(x0, b);
    up_sub192(a, b);
    up_sub192(a, f);
    return !(a[2] >> 63) && (a[0] | a[1] | a[2]) != 0;
}

/* sigmoid(x1 - x0) > t exactly: the rounded float64 difference settles every row whose difference is not next to
 * the threshold T (rounding to nearest keeps the exact difference on the same side of T as a double beyond lo or
 * hi); the rest compare in integers. */
static inline bool up_logit2_passes(float x1, float x0, const up_logit2_test_t *t)
{
    double d = (double)x1 - (double)x0;
    if (d > t->hi) {
        return true;
    }
    if (d < t->lo) {
        return false;
    }
    return up_logit2_exact(x1, x0, t->f);
}

/* A two-logit row a: packed into h->packed with its ordering key (the saturated difference of the converted
 * logits) when it passes the exact test. */
static inline int32_t up_logit2_take(up_host_source_t *h, const float *s, int32_t a, int32_t c,
                                     const up_logit2_test_t *t, int32_t count)
{
    if (up_logit2_passes(s[c], s[1 - c], t)) {
        int32_t l1 = up_f32_fixed(s[c], UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT);
        int32_t l0 = up_f32_fixed(s[1 - c], UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT);
        h->packed[count++] = up_pack_signed(up_sat32((int64_t)l1 - l0), a);
    }
    return count;
}

#ifdef UP_HOST_NEON
/*
 * Two logits per row (stride 2), 8 anchors at a time: a float32 pre-test that only rules anchors out, then the
 * exact test (up_logit2_take) on the blocks it could not rule out. With s1 >= -1000 and s0 <= 1000 (neither
 * clamped from the wrong side) the converted logits satisfy l1 - l0 < (s1 - s0) * 2^20 + 1, and the saturated key
 * is at most that, so s1 - s0 <= bound / 2^20 means key <= bound. The float32 difference and threshold are each
 * within 2.5e-4 of the exact values there (|s1 - s0| <= 4096 or the anchor fails anyway); the 1/1024 margin
 * covers both. NaN and Inf never pass the pre-test (comparisons false): they take the exact path. Returns the
 * anchors done (a multiple of 8); *count gains the passing ones, in anchor order.
 */
static int32_t up_logit2_pretest_neon(up_host_source_t *h, int32_t c, int32_t bound, const up_logit2_test_t *t,
                                      int32_t *count)
{
    const float *scores = h->scores;
    int32_t n = h->cfg->num_anchors & ~7;
    float32x4_t thr = vdupq_n_f32((float)((double)bound / 1048576.0 - 1.0 / 1024.0));
    float32x4_t lo = vdupq_n_f32(-1000.0f);
    float32x4_t hi = vdupq_n_f32(1000.0f);
    int32_t k = *count;
    for (int32_t a = 0; a < n; a += 8) {
        float32x4x2_t r0 = vld2q_f32(scores + 2 * (size_t)a);
        float32x4x2_t r1 = vld2q_f32(scores + 2 * (size_t)a + 8);
        float32x4_t s1a = c ? r0.val[1] : r0.val[0], s0a = c ? r0.val[0] : r0.val[1];
        float32x4_t s1b = c ? r1.val[1] : r1.val[0], s0b = c ? r1.val[0] : r1.val[1];
        uint32x4_t out_a = vandq_u32(vcleq_f32(vsubq_f32(s1a, s0a), thr),
                                     vandq_u32(vcgeq_f32(s1a, lo), vcleq_f32(s0a, hi)));
        uint32x4_t out_b = vandq_u32(vcleq_f32(vsubq_f32(s1b, s0b), thr),
                                     vandq_u32(vcgeq_f32(s1b, lo), vcleq_f32(s0b, hi)));
        if (UP_UNLIKELY(vminvq_u32(vandq_u32(out_a, out_b)) == 0)) {
            for (int32_t j = a; j < a + 8; j++) {
                k = up_logit2_take(h, scores + 2 * (size_t)j, j, c, t, k);
            }
        }
    }
    *count = k;
    return n;
}
#endif

/* Probabilities: the exact float32 test and the fast scan's packing (a single class was scanned already, with the
 * scores' finiteness); a passing p above 1 is out of range. Logits (within +-1024: beyond, the run was refused):
 * the exact test on the floats (one logit by its order key, two by up_logit2_passes), then the key converted as the
 * core reads an int32 key, a logit (clamped) or the saturated difference of two logits, to order the candidates. */
void up_host_select_f32(up_host_source_t *h, int32_t column, int32_t bound, up_candidates_t *cand)
{
    const up_config_t *cfg = h->cfg;
    const float *scores = h->scores;
    int32_t score_stride = h->score_stride;
    int32_t n = cfg->num_anchors;
    int32_t c = column;
    if (cfg->score_kind == UP_SCORE_PROB) {
        float thr = up_prob_threshold(bound);
        uint32_t above = 0;
        int32_t count = h->packed_count >= 0 ? h->packed_count
                                             : up_pack(scores + c, score_stride, thr, h->packed, 0, 0, n, &above);
        if (above) {
            up_out_of_range(&h->src);
        }
        up_take_packed(h, count, up_prob_q30_bound(thr), false, cand);
        return;
    }
    int32_t count = 0;
    int32_t a = 0;
    if (cfg->score_kind == UP_SCORE_LOGIT1) {
        for (; a < n; a++) {
            float x = scores[(size_t)a * (size_t)score_stride + (size_t)c];
            if (up_f32_order_key(x) > bound) {
                int32_t key = up_clip_logit(cfg, up_f32_fixed(x, UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT));
                h->packed[count++] = up_pack_signed(key, a);
            }
        }
        up_take_packed(h, count, bound, true, cand);
        return;
    }
    up_logit2_test_t test;
    up_logit2_test_read(cfg->score_lut, &test);
#ifdef UP_HOST_NEON
    if (score_stride == 2) {
        a = up_logit2_pretest_neon(h, c, bound, &test, &count);
    }
#endif
    for (; a < n; a++) {
        count = up_logit2_take(h, scores + (size_t)a * (size_t)score_stride, a, c, &test, count);
    }
    up_take_packed(h, count, bound, true, cand);
}
