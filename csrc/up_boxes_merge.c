/*
 * Soft-NMS (linear, Gaussian) and the merging kinds (blending, weighted) of the box-set NMS (up_boxes_nms in
 * ultrapost.h): every candidate against every other of its class, scores in the values' fixed point.
 */
#include "up_internal.h"

#ifndef UP_NO_BOXES

#ifndef UP_NO_SOFT_NMS
/* round(inter * 2^16 / union) (Q16), the union brought below 2^47 first (both shifted right alike). */
static int64_t up_iou_q16(uint64_t inter, uint64_t uni)
{
    while (uni >= ((uint64_t)1 << 47)) {
        inter >>= 1;
        uni >>= 1;
    }
    return (int64_t)up_udiv_round(inter << 16, uni);
}

/*
 * Soft-NMS: repeatedly output the best remaining decayed value (ties: lower index), then decay the others of
 * its class: linear by (1 - IoU) when IoU > t (exact test), Gaussian by exp(-IoU^2 / sigma) for every box.
 * A box leaves once its decayed value is <= value_bound. Scaling: IoU r in Q16 (up_iou_q16); linear
 * v * (2^16 - r) >> 16; Gaussian x = r^2 (Q32 -> Q16) * inv_sigma (Q16) -> Q20, then v * exp_q20(-x) >> 20;
 * |v| <= 2^30, so the products stay below 2^51.
 */
int32_t up_boxes_soft(const up_boxes_config_t *cfg, const up_boxes_input_t *in, up_boxes_scratch_t *s,
                             int32_t c, int32_t limit, up_boxes_output_t *out)
{
    bool gaussian = cfg->nms_kind == UP_NMS_SOFT_GAUSSIAN;
    int32_t *idx = s->order;
    int32_t *v = s->values;
    for (int32_t i = 0; i < c; i++) {
        v[i] = in->values[idx[i]];
    }
    int32_t kept = 0;
    while (kept < limit) {
        int32_t best = -1;
        for (int32_t i = 0; i < c; i++) {
            if (idx[i] >= 0 && v[i] > cfg->value_bound &&
                (best < 0 || v[i] > v[best] || (v[i] == v[best] && idx[i] < idx[best]))) {
                best = i;
            }
        }
        if (best < 0) {
            break;
        }
        int32_t a = idx[best];
        const int32_t *bb = in->boxes + (size_t)a * 4u;
        out->indices[kept] = a;
        out->values[kept] = v[best];
        kept++;
        idx[best] = -1;
        for (int32_t i = 0; i < c; i++) {
            int32_t j = idx[i];
            if (j < 0 || !up_same_class(in, a, j)) {
                continue;
            }
            const int32_t *b = in->boxes + (size_t)j * 4u;
            if (!gaussian && !up_boxes_exceeds(cfg, bb, b, 0)) {
                continue;
            }
            uint64_t inter = up_inter(bb, b);
            int64_t r;
            if (inter == 0) {
                if (!((cfg->flags & UP_BOXES_ZERO_AREA_OVERLAP) && up_area(bb) == 0 && up_area(b) == 0)) {
                    continue;
                }
                r = 65536;
            } else {
                r = up_iou_q16(inter, up_area(bb) + up_area(b) - inter);
            }
            if (gaussian) {
                int64_t x = up_rshift_round(up_rshift_round(r * r, 16) * cfg->soft_inv_sigma_q16, 12);
                int64_t f = up_exp_q20(-up_sat32(x));
                v[i] = (int32_t)up_rshift_round((int64_t)v[i] * f, 20);
            } else {
                v[i] = (int32_t)up_rshift_round((int64_t)v[i] * (65536 - r), 16);
            }
        }
    }
    return kept;
}
#endif

#ifndef UP_NO_MERGE_NMS
/* round(n / d) half away from zero, d > 0. */
static int64_t up_boxes_mean(int64_t n, int64_t d)
{
    uint64_t q = up_udiv_round(n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n, (uint64_t)d);
    return n < 0 ? -(int64_t)q : (int64_t)q;
}

/*
 * Merge weight (Q16) of value v in a cluster whose top has value top (v <= top):
 *   blend ..... exp(v - top) (the softmax weights exp(score) / sum exp(score), shifted by the top's score);
 *               the difference is in units of 2^-vq, brought to Q20 first
 *   weighted .. v / top (score weights, normalised by the top's; values >= 0); 0 when top is 0.
 */
static int64_t up_boxes_weight(bool blend, int32_t v, int32_t top, int32_t vq)
{
    if (blend) {
        int64_t d = v < top ? (int64_t)v - top : 0; /* in [-2^31, 0] */
        int64_t x;
        if (vq >= 20) {
            x = vq > 20 ? up_rshift_round(d, vq - 20 < 62 ? vq - 20 : 62) : d;
        } else if (d == 0) {
            x = 0;
        } else {
            x = 20 - vq >= 32 ? INT32_MIN : up_sat32(d * ((int64_t)1 << (20 - vq)));
        }
        return up_rshift_round(up_exp_q20((int32_t)x), 4);
    }
    return top > 0 ? (int64_t)up_udiv_round((uint64_t)(v < top ? v : top) << 16, (uint64_t)top) : 0;
}

/*
 * Blending and weighted NMS: the top remaining candidate and every remaining one of its class with IoU > t
 * against it form a cluster; the output box is the weighted mean of the cluster's corners (and, blending,
 * the value too; weighted keeps the top's value). Removed candidates hold -1 in order[]. Scaling: weights
 * <= 2^16, corners |v| <= 2^30: terms below 2^46, at most UP_BOXES_MAX_MERGE (2^16) of them below 2^62.
 */
int32_t up_boxes_merge(const up_boxes_config_t *cfg, const up_boxes_input_t *in, up_boxes_scratch_t *s,
                              int32_t c, int32_t limit, int32_t vq, up_boxes_output_t *out)
{
    bool blend = cfg->nms_kind == UP_NMS_BLEND;
    int32_t *idx = s->order;
    int32_t kept = 0;
    for (int32_t i = 0; i < c && kept < limit; i++) {
        int32_t a = idx[i];
        if (a < 0) {
            continue;
        }
        const int32_t *tb = in->boxes + (size_t)a * 4u;
        int32_t top = in->values[a];
        int64_t sw = 0;
        int64_t sum[5] = {0, 0, 0, 0, 0};
        for (int32_t j = i; j < c; j++) {
            int32_t b = idx[j];
            if (b < 0 || (j != i && !(up_same_class(in, a, b) &&
                                      up_boxes_exceeds(cfg, tb, in->boxes + (size_t)b * 4u, 0)))) {
                continue;
            }
            int64_t w = up_boxes_weight(blend, in->values[b], top, vq);
            const int32_t *bb = in->boxes + (size_t)b * 4u;
            for (int k = 0; k < 4; k++) {
                sum[k] += w * bb[k];
            }
            sum[4] += w * in->values[b];
            sw += w;
            if (j != i) {
                idx[j] = -1;
            }
        }
        int32_t *ob = out->boxes + (size_t)kept * 4u;
        for (int k = 0; k < 4; k++) {
            ob[k] = sw > 0 ? (int32_t)up_boxes_mean(sum[k], sw) : tb[k];
        }
        out->values[kept] = (blend && sw > 0) ? (int32_t)up_boxes_mean(sum[4], sw) : top;
        out->indices[kept] = a;
        kept++;
    }
    return kept;
}
#endif
#else
typedef int up_boxes_merge_left_out; /* UP_NO_BOXES: nothing here (ISO C wants a declaration) */
#endif
