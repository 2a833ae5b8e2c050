/*
 * Decode of one candidate: variance decode against its prior (deltas), linear
 * decode (BlazeFace) or dequantization (corners), in Q20, clipped to [0, 1]
 * with clip; keypoints the same way as box centers. Nothing is saturated
 * silently: without clip, a corner or keypoint beyond +-4.0 marks the run
 * (UP_ERR_RANGE); a size factor at the top of its Q20 range (exp saturated)
 * marks it too, unless clip makes the result exact (the box covers [0, 1] on
 * that axis, as the larger true box then does).
 */
#include "up_internal.h"

void up_read_row(const up_source_t *src, const void *base, int32_t stride, int32_t anchor, int32_t n,
                 int32_t *raw)
{
    if (src->cfg->input_kind == UP_INPUT_S8) {
        const int8_t *row = (const int8_t *)base + (size_t)anchor * (size_t)stride;
        for (int32_t k = 0; k < n; k++) {
            raw[k] = row[k];
        }
    } else {
        const int32_t *row = (const int32_t *)base + (size_t)anchor * (size_t)stride;
        for (int32_t k = 0; k < n; k++) {
            raw[k] = row[k];
        }
    }
}

/* Center factor c of one raw value: var_center * d in Q20 (int8: the host's table). */
static int32_t up_center_factor(const up_config_t *cfg, const int32_t *lut, int32_t raw)
{
    if (cfg->input_kind == UP_INPUT_S8) {
        return lut[raw + 128];
    }
    return up_sat32(up_rshift_round((int64_t)raw * cfg->var_center_q30, 30));
}

/*
 * Scaling and overflow (deltas, linear): the center factor c = var_center * d
 * and the size factor e = exp(var_size * d) (deltas) or var_size * d (linear)
 * are Q20 (int8: host tables; fixed point: d * var in Q20 x Q30 -> Q20, then
 * up_exp_q20 for deltas). cx = pcx + c * pw and w = e * pw are Q20 x Q20
 * products in int64 (operands below 2^31), rounded half up; corners
 * cx -+ round(w / 2) beyond +-4 (or a saturated e) mark the run as above.
 * Error against float64: at most about 2 LSB (2e-6) for |d| < 7 and
 * realistic priors, dominated by the rounding of priors and tables.
 */
static bool up_decode(const up_config_t *cfg, int32_t anchor, const int32_t raw[4], int32_t box[4])
{
    int32_t lo = cfg->clip ? 0 : -UP_BOX_LIMIT;
    int32_t hi = cfg->clip ? UP_ONE_BOX : UP_BOX_LIMIT;
    if (cfg->box_kind == UP_BOX_CORNERS) { /* given corners: clipped (clip), else beyond +-4 is an error */
        bool out = false;
        for (int k = 0; k < 4; k++) {
            int32_t v = cfg->input_kind == UP_INPUT_S8 ? cfg->box_lut[raw[k] + 128] : raw[k];
            out |= v < lo || v > hi;
            box[k] = up_clamp32(v, lo, hi);
        }
        return out && !cfg->clip;
    }
    const int32_t *prior = cfg->priors + (size_t)anchor * 4u;
    bool out = false;
    for (int k = 0; k < 2; k++) { /* x, then y: the center and size of one axis stay in registers */
        int32_t c_q20 = up_center_factor(cfg, cfg->center_lut, raw[k]);
        int32_t e_q20;
        if (cfg->input_kind == UP_INPUT_S8) {
            e_q20 = cfg->size_lut[raw[k + 2] + 128];
        } else {
            e_q20 = up_sat32(up_rshift_round((int64_t)raw[k + 2] * cfg->var_size_q30, 30));
            if (cfg->box_kind == UP_BOX_DELTAS) {
                e_q20 = up_exp_q20(e_q20);
            }
        }
        int64_t center = prior[k] + up_rshift_round((int64_t)c_q20 * prior[k + 2], 20);
        int64_t half = up_rshift_round(up_rshift_round((int64_t)e_q20 * prior[k + 2], 20), 1);
        int64_t x1 = center - half;
        int64_t x2 = center + half;
        out |= cfg->clip ? e_q20 == INT32_MAX && (x1 > 0 || x2 < UP_ONE_BOX)
                         : e_q20 == INT32_MAX || x1 < lo || x2 > hi;
        box[k] = up_clamp32(x1, lo, hi);
        box[k + 2] = up_clamp32(x2, lo, hi);
    }
    return out;
}

void up_box_of(const up_source_t *src, int32_t anchor, int32_t box[4])
{
    int32_t raw[4];
    up_read_row(src, src->boxes, src->box_stride, anchor, 4, raw);
    if (up_decode(src->cfg, anchor, raw, box)) {
        up_out_of_range(src);
    }
}

void up_check_boxes(const up_source_t *src, const up_candidates_t *cand, int32_t from)
{
    if (src->cfg->box_kind == UP_BOX_CORNERS && src->cfg->clip) {
        return; /* clipped corners are always in range */
    }
    for (int32_t i = from; i < cand->count; i++) {
        int32_t box[4];
        up_box_of(src, cand->idx[i], box);
    }
}

#ifndef UP_NO_KEYPOINTS
/* Keypoint value k (x for even k, y for odd) of raw r: p_xy + c * p_wh, c the center factor
 * (keypoint_lut for int8), clipped with clip; beyond +-4 without clip marks the run. */
static int32_t up_keypoint_decode(const up_source_t *src, int32_t anchor, int32_t k, int32_t r)
{
    const up_config_t *cfg = src->cfg;
    int32_t lo = cfg->clip ? 0 : -UP_BOX_LIMIT;
    int32_t hi = cfg->clip ? UP_ONE_BOX : UP_BOX_LIMIT;
    const int32_t *prior = cfg->priors + (size_t)anchor * 4u;
    int32_t c_q20 = up_center_factor(cfg, cfg->keypoint_lut, r);
    int64_t v = prior[k & 1] + up_rshift_round((int64_t)c_q20 * prior[2 + (k & 1)], 20);
    if (!cfg->clip && (v < lo || v > hi)) {
        up_out_of_range(src);
    }
    return up_clamp32(v, lo, hi);
}

void up_keypoints_of(const up_source_t *src, int32_t anchor, int32_t *kp)
{
    int32_t n = 2 * src->cfg->num_keypoints;
    up_read_row(src, src->keypoints, src->keypoint_stride, anchor, n, kp);
    for (int32_t k = 0; k < n; k++) {
        kp[k] = up_keypoint_decode(src, anchor, k, kp[k]);
    }
}

int32_t up_keypoint_value(const up_source_t *src, int32_t anchor, int32_t k)
{
    int32_t r;
    size_t elem = src->cfg->input_kind == UP_INPUT_S8 ? 1u : 4u; /* int8, else int32 */
    up_read_row(src, (const char *)src->keypoints + (size_t)k * elem, src->keypoint_stride, anchor, 1, &r);
    return up_keypoint_decode(src, anchor, k, r);
}
#endif

void up_emit(const up_source_t *src, up_output_t *out, int32_t k, int32_t anchor, const int32_t box[4],
             int32_t score)
{
    for (int j = 0; j < 4; j++) {
        out->boxes[(size_t)k * 4u + (size_t)j] = box[j];
    }
    out->scores[k] = score;
    out->anchors[k] = anchor;
#ifndef UP_NO_KEYPOINTS
    if (src->cfg->num_keypoints > 0) {
        up_keypoints_of(src, anchor, out->keypoints + (size_t)k * 2u * (size_t)src->cfg->num_keypoints);
    }
#else
    (void)src;
#endif
}
