/*
 * Between the host library's stages (csrc/host): the run they share and the SIMD switches. The host composes
 * the core's stages (up_internal.h) with its own: a float32 selection and boundary, and a hard NMS that tests
 * kept boxes 16 at a time; it calls the core, never the other way round.
 */
#ifndef UP_HOST_INTERNAL_H
#define UP_HOST_INTERNAL_H

#include "up_host.h"
#include "up_internal.h"

/* x86-64 with GCC or Clang: AVX2 variants, chosen at run time. UP_HOST_NO_SIMD builds only the portable code,
 * as other hosts do (the tests build it that way too, to check that code against the golden model). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(UP_HOST_NO_SIMD)
#define UP_HOST_X86 1
#include <immintrin.h>
#endif

/* aarch64 (Advanced SIMD is part of the base architecture): NEON pre-tests, compiled in. */
#if defined(__aarch64__) && defined(__ARM_NEON) && !defined(UP_HOST_NO_SIMD)
#define UP_HOST_NEON 1
#include <arm_neon.h>
#endif

#if defined(__GNUC__)
#define UP_ALWAYS_INLINE __attribute__((always_inline))
#define UP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define UP_ALWAYS_INLINE
#define UP_UNLIKELY(x) (x)
#endif

/*
 * A run as the host sees it. src is what the core's stages read: for int8 and int32 tensors the caller's; for
 * float32 an int32 view of them, in which the keys are one column (src.scores = keys) and the box and keypoint
 * rows are the converted rows of the candidates (filled before a core stage reads them). view is the config the
 * stages then see: the caller's as UP_INPUT_I32, its keys read as they are (probabilities, or logits already
 * clamped or subtracted: LOGIT1 without a clip; both give the sigmoid as the score).
 */
typedef struct {
    up_source_t src;
    up_config_t view;        /* float32 runs: src.cfg points here */
    const up_config_t *cfg;  /* the caller's config */
    const float *scores;     /* float32 tensors (NULL for int8 / int32 runs) */
    const float *boxes;
    const float *keypoints;  /* rows of 2P values, or NULL */
    int32_t score_stride;
    int32_t box_stride;
    int32_t keypoint_stride;
    int32_t *keys;           /* float32: one converted key per anchor (src.scores) */
    /* float32: candidates packed as key << 32 | ~anchor (so one descending sort of the values is keep order) and
     * room to sort them, one uint64 per anchor each; once the candidates are chosen, the decoded boxes of the host's
     * hard NMS, or the converted box rows [N][4] (src.boxes) the core's NMS kinds read. int8 / int32: the same
     * packing of the held candidates, 2 x candidate_limit, or NULL (the core's sort) */
    uint64_t *packed;
    int32_t packed_count;    /* >= 0 when the scores of a single class were scanned already, else -1 */
    int32_t *keypoint_rows;  /* float32 with keypoints: converted keypoint rows [N][2P] (src.keypoints) */
    int16_t *kept_blocks;    /* the kept boxes in blocks of 16 for the hard NMS pre-test, or NULL */
} up_host_source_t;

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

/* up_f32_to_fixed, inline where the host converts element by element. */
static inline int32_t up_f32_fixed(float x, int q, int32_t lo, int32_t hi)
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

/* Boundary (up_host_boundary.c). The largest |x| of n contiguous floats (or of the first cols elements of n rows,
 * stride apart) as its bit pattern: UP_F32_INF_BITS or more for a NaN or Inf, above UP_F32_LIMIT_BITS for a value
 * beyond +-1024, the range of the Q20 conversion (an error, never a clamp). */
#define UP_F32_INF_BITS 0x7f800000u
#define UP_F32_LIMIT_BITS 0x44800000u /* 1024.0f */
uint32_t up_host_max_abs_bits(const float *x, size_t n);
uint32_t up_host_rows_max_abs_bits(const float *x, int32_t n, int32_t cols, int32_t stride);
/* True when the score rows (score_cols floats, or scores NULL), box rows (4) and keypoint rows (keypoint_cols, or
 * keypoints NULL), all `stride` floats apart, tile each row exactly (a packed output) and no float of the n rows is
 * NaN, Inf or beyond +-1024: one contiguous, vectorized scan instead of strided ones. False also when they do not
 * tile. */
bool up_host_rows_clean(const float *scores, int32_t score_cols, const float *boxes, const float *keypoints,
                        int32_t keypoint_cols, int32_t n, int32_t stride);
/* n converted values (Q20) of float32 row `anchor`. */
void up_host_fetch(const float *base, int32_t stride, int32_t anchor, int32_t n, int32_t *raw);
/* The decoded box of an anchor, read from the float32 boxes; and the decode of a box row already converted (both
 * mark the run out of range for a given corner beyond +-4, as the core's up_box_of does). */
void up_host_box_f32(const up_host_source_t *h, int32_t anchor, int32_t box[4]);
void up_host_decode_raw(const up_host_source_t *h, int32_t anchor, const int32_t raw[4], int32_t box[4]);
/* Float32 runs: converts the keypoint row of an anchor into h->keypoint_rows (before the core emits it). */
void up_host_convert_keypoints(const up_host_source_t *h, int32_t anchor);
/* Float32 runs: converts the box and keypoint rows of every candidate (before a core NMS kind reads them). */
void up_host_convert_rows(const up_host_source_t *h, const up_candidates_t *cand);

/* Float32 selection (up_host_select.c). Scans the scores of a single-class probability run into h->packed and
 * returns non-zero if a score is NaN or Inf; sets *boxes_checked when the same pass read the boxes, and then their
 * largest |x| bits in *box_bits (as up_host_max_abs_bits). */
uint32_t up_host_scan_packed(up_host_source_t *h, bool *boxes_checked, uint32_t *box_bits);
/* Converts the keys of one class column and takes the best candidate_limit anchors passing bound into cand, in
 * keep order, their keys into h->keys. */
void up_host_select_f32(up_host_source_t *h, int32_t column, int32_t bound, up_candidates_t *cand);

/* int8 / int32 runs: sorts the candidates the core's up_select holds into keep order (h->packed: 2 x candidate_limit
 * uint64). */
void up_host_sort_held(const up_host_source_t *h, up_candidates_t *cand);

/* Hard NMS (up_host_nms.c), with up_nms_hard's decisions: kept boxes tested 16 at a time in h->kept_blocks. */
int32_t up_host_nms_hard(const up_host_source_t *h, const up_candidates_t *cand, up_output_t *out);
/* Bytes of the kept-box blocks of a config (with room to align them), and where they start in a scratch. */
size_t up_host_kept_bytes(const up_config_t *cfg);
int16_t *up_host_kept_blocks(const up_config_t *cfg, void *scratch);

#ifdef UP_HOST_X86
/* up_f32_to_fixed of 4 values (Q20), the same double arithmetic: clamping first gives the same result
 * (floor(lo + 0.5) = lo, floor(hi + 0.5) = hi). */
__attribute__((target("avx2"))) static inline __m128i up_load4_avx2(const float *row)
{
    __m256d v = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(row)), _mm256_set1_pd((double)(1 << UP_F32_VALUE_Q)));
    v = _mm256_min_pd(_mm256_max_pd(v, _mm256_set1_pd(-(double)UP_F32_VALUE_LIMIT)),
                      _mm256_set1_pd((double)UP_F32_VALUE_LIMIT));
    return _mm256_cvtpd_epi32(_mm256_floor_pd(_mm256_add_pd(v, _mm256_set1_pd(0.5))));
}

/* Batch decode (up_host_decode.c): boxes ([n][4] Q20) of candidates idx[0, n) from the float32 rows. */
__attribute__((target("avx2"))) void up_host_decode_batch_avx2(const up_host_source_t *h, const int32_t *idx,
                                                                int32_t n, int32_t *boxes);
#endif

#endif /* UP_HOST_INTERNAL_H */
