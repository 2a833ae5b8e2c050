/* Host-only float32 boundary: conversion to fixed point, then the integer core. */
#include "up_host.h"

#include "up_internal.h"

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

static inline bool up_finite(float x)
{
    union {
        float f;
        uint32_t u;
    } bits = {x};
    return (bits.u & 0x7f800000u) != 0x7f800000u;
}

static void up_fetch_f32(const up_source_t *src, int32_t anchor, int32_t raw[4])
{
    const float *row = (const float *)src->boxes + (size_t)anchor * (size_t)src->box_stride;
    for (int k = 0; k < 4; k++) {
        raw[k] = up_f32_to_fixed(row[k], UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT);
    }
}

static size_t up_keys_offset(const up_config_t *cfg)
{
    return ((size_t)cfg->candidate_limit * sizeof(int32_t) + 7u) & ~(size_t)7u;
}

size_t up_scratch_size_f32(const up_config_t *cfg)
{
    if (up_check_config(cfg) != UP_OK) {
        return 0;
    }
    return up_keys_offset(cfg) + (size_t)cfg->num_anchors * sizeof(int32_t);
}

int32_t up_run_f32(const up_config_t *cfg, const float *scores, int32_t score_stride,
                   const float *boxes, int32_t box_stride, void *scratch, size_t scratch_size,
                   up_output_t *out)
{
    int32_t status = up_check_config(cfg);
    if (status != UP_OK) {
        return status;
    }
    if (cfg->input_kind != UP_INPUT_F32) {
        return UP_ERR_CONFIG;
    }
    if (!scores || !boxes || !scratch) {
        return UP_ERR_NULL;
    }
    if (scratch_size < up_scratch_size_f32(cfg) || ((uintptr_t)scratch & 7u)) {
        return UP_ERR_SCRATCH;
    }
    if (score_stride < cfg->num_classes || box_stride < 4) {
        return UP_ERR_STRIDE;
    }
    int32_t n = cfg->num_anchors;
    int32_t nc = cfg->num_classes;
    int32_t c = cfg->class_index;
    int32_t bound = cfg->score_bound;
    int32_t *keys = (int32_t *)((char *)scratch + up_keys_offset(cfg));
    bool finite = true;
    for (int32_t a = 0; a < n; a++) {
        const float *s = scores + (size_t)a * (size_t)score_stride;
        const float *b = boxes + (size_t)a * (size_t)box_stride;
        for (int32_t k = 0; k < nc; k++) {
            finite &= up_finite(s[k]);
        }
        finite &= up_finite(b[0]) & up_finite(b[1]) & up_finite(b[2]) & up_finite(b[3]);
    }
    if (!finite) {
        return UP_ERR_NONFINITE;
    }
    if (cfg->score_kind == UP_SCORE_PROB) {
        /* conv(p) > bound  <=>  p >= (bound + 0.5) / 2^30, exactly, for bound >= 0 */
        double thr = bound >= 0 ? ((double)bound + 0.5) / (double)((int64_t)1 << UP_F32_PROB_Q) : -1e300;
        for (int32_t a = 0; a < n; a++) {
            float p = scores[(size_t)a * (size_t)score_stride + (size_t)c];
            int32_t key = INT32_MIN;
            if ((double)p >= thr) {
                key = up_f32_to_fixed(p, UP_F32_PROB_Q, 0, UP_ONE_SCORE);
            }
            keys[a] = key > bound ? key : INT32_MIN;
        }
    } else {
        for (int32_t a = 0; a < n; a++) {
            const float *s = scores + (size_t)a * (size_t)score_stride;
            int32_t l1 = up_f32_to_fixed(s[c], UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT);
            int32_t l0 = up_f32_to_fixed(s[1 - c], UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT);
            keys[a] = up_sat32((int64_t)l1 - l0);
        }
    }
    up_source_t src = {cfg, scores, score_stride, boxes, box_stride, keys, up_fetch_f32};
    return up_run_source(&src, scratch, scratch_size, out);
}
