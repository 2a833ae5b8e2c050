/*
 * Box decode of one candidate: variance decode against its prior (deltas) or
 * dequantization (corners), in Q20, saturated to +-4.0 (or clipped to [0, 1]).
 */
#include "up_internal.h"

void up_raw_box(const up_source_t *src, int32_t anchor, int32_t raw[4])
{
    if (src->fetch_box) {
        src->fetch_box(src, anchor, raw);
    } else if (src->cfg->input_kind == UP_INPUT_S8) {
        const int8_t *row = (const int8_t *)src->boxes + (size_t)anchor * (size_t)src->box_stride;
        for (int k = 0; k < 4; k++) {
            raw[k] = row[k];
        }
    } else {
        const int32_t *row = (const int32_t *)src->boxes + (size_t)anchor * (size_t)src->box_stride;
        for (int k = 0; k < 4; k++) {
            raw[k] = row[k];
        }
    }
}

/*
 * Scaling and overflow (deltas): the center factor c = var_center * d and the
 * size factor e = exp(var_size * d) are Q20 (int8: host tables; fixed point:
 * d * var in Q20 x Q30 -> Q20, then up_exp_q20). cx = pcx + c * pw and
 * w = e * pw are Q20 x Q20 products in int64 (operands below 2^31), rounded
 * half up; corners cx -+ round(w / 2) are saturated to the box limit.
 * Error against float64: at most about 2 LSB (2e-6) for |d| < 7 and
 * realistic priors, dominated by the rounding of priors and tables.
 */
void up_decode(const up_config_t *cfg, int32_t anchor, const int32_t raw[4], int32_t box[4])
{
    int32_t lo = cfg->clip ? 0 : -UP_BOX_LIMIT;
    int32_t hi = cfg->clip ? UP_ONE_BOX : UP_BOX_LIMIT;
    if (cfg->box_kind == UP_BOX_CORNERS) {
        for (int k = 0; k < 4; k++) {
            int32_t v = cfg->input_kind == UP_INPUT_S8 ? cfg->box_lut[raw[k] + 128] : raw[k];
            box[k] = up_clamp32(v, lo, hi);
        }
        return;
    }
    const int32_t *prior = cfg->priors + (size_t)anchor * 4u;
    int64_t center[2];
    int64_t size[2];
    for (int k = 0; k < 2; k++) {
        int32_t c_q20;
        int32_t e_q20;
        if (cfg->input_kind == UP_INPUT_S8) {
            c_q20 = cfg->center_lut[raw[k] + 128];
            e_q20 = cfg->size_lut[raw[k + 2] + 128];
        } else {
            c_q20 = up_sat32(up_rshift_round((int64_t)raw[k] * cfg->var_center_q30, 30));
            e_q20 = up_exp_q20(up_sat32(up_rshift_round((int64_t)raw[k + 2] * cfg->var_size_q30, 30)));
        }
        center[k] = prior[k] + up_rshift_round((int64_t)c_q20 * prior[k + 2], 20);
        size[k] = up_rshift_round((int64_t)e_q20 * prior[k + 2], 20);
    }
    for (int k = 0; k < 2; k++) {
        int64_t half = up_rshift_round(size[k], 1);
        box[k] = up_clamp32(center[k] - half, lo, hi);
        box[k + 2] = up_clamp32(center[k] + half, lo, hi);
    }
}
