/* The float32 boundary: elements to the core's fixed point, NaN / Inf checks, and the int32 rows the core's
 * stages read in a float32 run. */
#include "up_host_internal.h"

/* Host builds on x86-64 Linux get an AVX2 clone of the scanning loops, chosen at load time. */
#if defined(UP_HOST_X86) && !defined(__clang__) && defined(__linux__)
#define UP_HOST_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define UP_HOST_CLONES
#endif

int32_t up_f32_to_fixed(float x, int q, int32_t lo, int32_t hi)
{
    if (x != x) {
        return 0; /* NaN: its cast to an integer is undefined; a run refuses NaN before it converts */
    }
    return up_f32_fixed(x, q, lo, hi);
}

/* Non-negative floats order as their bit patterns: an unsigned max reduction, which vectorizes. */
UP_HOST_CLONES uint32_t up_host_max_abs_bits(const float *x, size_t n)
{
    uint32_t m = 0;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (size_t i = 0; i < n; i++) {
        uint32_t e = up_bits(x[i]) & 0x7fffffffu;
        m = e > m ? e : m;
    }
    return m;
}

uint32_t up_host_rows_max_abs_bits(const float *x, int32_t n, int32_t cols, int32_t stride)
{
    if (stride == cols) {
        return up_host_max_abs_bits(x, (size_t)n * (size_t)cols);
    }
    uint32_t m = 0;
    for (int32_t a = 0; a < n; a++) {
        uint32_t e = up_host_max_abs_bits(x + (size_t)a * (size_t)stride, (size_t)cols);
        m = e > m ? e : m;
    }
    return m;
}

/* Whether the score, box and keypoint rows (keypoints NULL: none) tile one row of `stride` floats exactly, as in a
 * packed output ([N, 4 + C + 2P] rows); then *base is the first float of the first row. Addresses compare as
 * integers (the tensors may be distinct arrays). */
static bool up_host_tiled(const float *const ptr[3], const int32_t cols[3], int32_t stride, const float **base)
{
    uintptr_t lo = UINTPTR_MAX;
    int32_t total = 0;
    for (int i = 0; i < 3; i++) {
        if (ptr[i]) {
            lo = (uintptr_t)ptr[i] < lo ? (uintptr_t)ptr[i] : lo;
            total += cols[i];
        }
    }
    if (total != stride) {
        return false;
    }
    uintptr_t at[3] = {0, 0, 0}; /* each part's first column within the row */
    for (int i = 0; i < 3; i++) {
        if (!ptr[i]) {
            continue;
        }
        uintptr_t bytes = (uintptr_t)ptr[i] - lo;
        if (bytes % sizeof(float) || bytes / sizeof(float) + (uintptr_t)cols[i] > (uintptr_t)stride) {
            return false;
        }
        at[i] = bytes / sizeof(float);
        for (int j = 0; j < i; j++) { /* no two overlapping: with the total, they tile the row */
            if (ptr[j] && at[i] < at[j] + (uintptr_t)cols[j] && at[j] < at[i] + (uintptr_t)cols[i]) {
                return false;
            }
        }
    }
    for (int i = 0; i < 3; i++) {
        if (ptr[i] && (uintptr_t)ptr[i] == lo) {
            *base = ptr[i];
        }
    }
    return true;
}

bool up_host_rows_clean(const float *scores, int32_t score_cols, const float *boxes, const float *keypoints,
                        int32_t keypoint_cols, int32_t n, int32_t stride)
{
    const float *ptr[3] = {scores, boxes, keypoints};
    const int32_t cols[3] = {score_cols, 4, keypoint_cols};
    const float *base = boxes;
    if (!up_host_tiled(ptr, cols, stride, &base)) {
        return false;
    }
    return up_host_max_abs_bits(base, (size_t)n * (size_t)stride) <= UP_F32_LIMIT_BITS;
}

void up_host_fetch(const float *base, int32_t stride, int32_t anchor, int32_t n, int32_t *raw)
{
    const float *row = base + (size_t)anchor * (size_t)stride;
#ifdef UP_HOST_X86
    if (n == 4 && __builtin_cpu_supports("avx2")) {
        _mm_storeu_si128((__m128i *)raw, up_load4_avx2(row));
        return;
    }
#endif
    for (int32_t k = 0; k < n; k++) {
        raw[k] = up_f32_fixed(row[k], UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT);
    }
}

void up_host_box_f32(const up_host_source_t *h, int32_t anchor, int32_t box[4])
{
    int32_t raw[4];
    up_host_fetch(h->boxes, h->box_stride, anchor, 4, raw);
    up_host_decode_raw(h, anchor, raw, box);
}

/* The core decodes the converted row through a view of the run whose every box row is raw (row stride 0): the
 * prior still comes from the anchor, and a given corner out of range marks the run. (The core keeps its decode
 * inside up_box_of, where firmware wants it.) */
void up_host_decode_raw(const up_host_source_t *h, int32_t anchor, const int32_t raw[4], int32_t box[4])
{
    up_source_t one = h->src;
    one.boxes = raw;
    one.box_stride = 0;
    up_box_of(&one, anchor, box);
    if (one.range) {
        up_out_of_range(&h->src);
    }
}

void up_host_convert_keypoints(const up_host_source_t *h, int32_t anchor)
{
    int32_t n = 2 * h->cfg->num_keypoints;
    up_host_fetch(h->keypoints, h->keypoint_stride, anchor, n, h->keypoint_rows + (size_t)anchor * (size_t)n);
}

void up_host_convert_rows(const up_host_source_t *h, const up_candidates_t *cand)
{
    if (!h->scores) {
        return; /* int8 / int32: the core reads the caller's tensors */
    }
    int32_t *rows = (int32_t *)h->packed;
    for (int32_t i = 0; i < cand->count; i++) {
        int32_t a = cand->idx[i];
        up_host_fetch(h->boxes, h->box_stride, a, 4, rows + (size_t)a * 4u);
        if (h->keypoints) {
            up_host_convert_keypoints(h, a);
        }
    }
}
