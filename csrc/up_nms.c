/*
 * NMS variants over candidates sorted best first (see up_nms_kind_t in
 * ultrapost.h). Hard NMS decodes each candidate only when reached and compares
 * it with the boxes already kept (held in the caller's output), which gives the
 * same decisions as suppressing every remaining box against each kept one; the
 * merging and soft kinds decode every candidate box once into scratch.
 */
#include "up_internal.h"

#ifndef UP_NO_SOFT_NMS
/*
 * Scaling and overflow: corners are Q20 within +-4.0 (2^22) and pads at most
 * 1.0, so padded widths and intersections fit int32 (below 2^23 + 2^20); areas
 * are int64 products and, for two overlapping boxes, the union (inside their
 * padded bounding square) is below 2^46.4 + eps (eps <= 2^40): inter * 2^16
 * stays below 2^63. Boxes that do not overlap (padded
 * intersection <= 0 on an axis) get inter = 0.
 */
static void up_overlap(const up_config_t *cfg, const int32_t *a, const int32_t *b, int64_t *inter,
                       int64_t *uni)
{
    int32_t px = cfg->pad_x_q20;
    int32_t py = cfg->pad_y_q20;
    int32_t iw = up_min32(a[2], b[2]) - up_max32(a[0], b[0]) + px;
    int32_t ih = up_min32(a[3], b[3]) - up_max32(a[1], b[1]) + py;
    int64_t in = (iw > 0 && ih > 0) ? (int64_t)iw * ih : 0;
    *inter = in;
    *uni = (int64_t)up_extent(a[0], a[2], px) * up_extent(a[1], a[3], py) +
           (int64_t)up_extent(b[0], b[2], px) * up_extent(b[1], b[3], py) - in + cfg->iou_eps_q40;
}
#endif

uint64_t up_udiv_round(uint64_t n, uint64_t d)
{
    uint64_t num = n + (d >> 1);
    uint64_t q = 0;
    uint64_t r = 0;
    for (int bit = 63; bit >= 0; bit--) {
        r = (r << 1) | ((num >> bit) & 1u); /* r < d < 2^63: no overflow */
        if (r >= d) {
            r -= d;
            q |= (uint64_t)1 << bit;
        }
    }
    return q;
}

int32_t up_nms_hard(const up_source_t *src, const up_candidates_t *cand, up_output_t *out)
{
    const up_config_t *cfg = src->cfg;
    int32_t kept = 0;
    int32_t i = 0;
    for (; i < cand->count && kept < cfg->max_detections; i++) {
        int32_t anchor = cand->idx[i];
        int32_t box[4];
        up_box_of(src, anchor, box);
        bool suppressed = false;
        for (int32_t j = 0; j < kept && !suppressed; j++) {
            suppressed = up_iou_exceeds(cfg, box, out->boxes + (size_t)j * 4u);
        }
        if (!suppressed) {
            up_emit(src, out, kept, anchor, box, up_score_of_key(cfg, up_key(src, anchor)));
            kept++;
        }
    }
    up_check_boxes(src, cand, i);
    out->count = kept;
    return UP_OK;
}

#if !defined(UP_NO_MERGE_NMS) || !defined(UP_NO_SOFT_NMS)
/* Decodes every candidate's box into work ([count][4]). */
static void up_decode_all(const up_source_t *src, const up_candidates_t *cand, int32_t *work)
{
    for (int32_t i = 0; i < cand->count; i++) {
        up_box_of(src, cand->idx[i], work + (size_t)i * 4u);
    }
}
#endif

#ifndef UP_NO_MERGE_NMS
/* round(n / d) half away from zero, d > 0. */
static int32_t up_mean(int64_t n, int64_t d)
{
    uint64_t q = up_udiv_round(n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n, (uint64_t)d);
    return n < 0 ? -(int32_t)q : (int32_t)q;
}

/*
 * Blending (ncnn) and weighted (MediaPipe) NMS: clusters of the top remaining
 * candidate and every remaining one with IoU > t against it. Removed
 * candidates hold -1 in cand->idx; members of the cluster being merged hold
 * -2 - anchor, so each mean is one pass with its sum in registers (no
 * per-cluster arrays on the stack). Means are convex combinations, so they stay
 * within the range of their terms.
 * Scaling and overflow: weights are Q16 below 2^17.5 (exp(1) * 2^16), box
 * corners and keypoints Q20 within +-2^22, scores clamped to [0, 2^30]: terms are
 * below 2^47.5 and at most UP_MAX_MERGE_CANDIDATES (2^15) of them sum below
 * 2^62.5 in int64.
 */
/* Merge weight (Q16) of a member's score clamped to [0, 1] (fixed-point inputs may hold any int32). */
static int64_t up_merge_weight(const up_source_t *src, bool blend, int32_t anchor)
{
    int32_t s = up_clamp32(up_score_of_key(src->cfg, up_key(src, anchor)), 0, UP_ONE_SCORE);
    return blend ? up_rshift_round(up_exp_q20((int32_t)up_rshift_round(s, 10)), 4) : up_rshift_round(s, 14);
}

/* Coordinate k >= 0 of candidate j (anchor a): box value k < 4 (decoded in work), else keypoint value k - 4. */
static int32_t up_member_value(const up_source_t *src, const int32_t *work, int32_t j, int32_t a, int32_t k)
{
    if (k < 4) {
        return work[(size_t)j * 4u + (size_t)k];
    }
#ifndef UP_NO_KEYPOINTS
    return up_keypoint_value(src, a, k - 4);
#else
    (void)src;
    (void)a;
    return 0;
#endif
}

/* Weighted sum over the marked cluster [i, count) of coordinate k (up_member_value), or of the clamped score
 * for k < 0. */
static int64_t up_cluster_sum(const up_source_t *src, const up_candidates_t *cand, const int32_t *work,
                              int32_t i, int32_t k, bool blend)
{
    int64_t sum = 0;
    for (int32_t j = i; j < cand->count; j++) {
        int32_t e = cand->idx[j];
        if (e > -2) {
            continue;
        }
        int32_t a = -2 - e;
        int64_t w = up_merge_weight(src, blend, a);
        int64_t v = k < 0 ? up_clamp32(up_score_of_key(src->cfg, up_key(src, a)), 0, UP_ONE_SCORE)
                          : up_member_value(src, work, j, a, k);
        sum += w * v;
    }
    return sum;
}

int32_t up_nms_merge(const up_source_t *src, up_candidates_t *cand, int32_t *work, up_output_t *out)
{
    const up_config_t *cfg = src->cfg;
    int32_t nkp = 0;
#ifndef UP_NO_KEYPOINTS
    nkp = 2 * cfg->num_keypoints;
#endif
    bool blend = cfg->nms_kind == UP_NMS_BLEND;
    int32_t kept = 0;
    up_decode_all(src, cand, work);
    for (int32_t i = 0; i < cand->count && kept < cfg->max_detections; i++) {
        int32_t top = cand->idx[i];
        if (top < 0) {
            continue;
        }
        const int32_t *top_box = work + (size_t)i * 4u;
        int64_t sw = 0;
        for (int32_t j = i; j < cand->count; j++) { /* mark the cluster, sum its weights */
            int32_t a = cand->idx[j];
            if (a < 0 || (j != i && !up_iou_exceeds(cfg, top_box, work + (size_t)j * 4u))) {
                continue;
            }
            cand->idx[j] = -2 - a;
            sw += up_merge_weight(src, blend, a);
        }
        int32_t *obox = out->boxes + (size_t)kept * 4u;
        int32_t *okp = nkp > 0 ? out->keypoints + (size_t)kept * (size_t)nkp : 0;
        for (int32_t k = 0; k < 4 + nkp; k++) {
            /* every weight rounded to 0 (WEIGHTED, scores below 2^-17): the top as is */
            int32_t v = sw > 0 ? up_mean(up_cluster_sum(src, cand, work, i, k, blend), sw)
                               : up_member_value(src, work, i, top, k);
            if (k < 4) {
                obox[k] = v;
            } else {
                okp[k - 4] = v;
            }
        }
        int32_t top_score = up_score_of_key(cfg, up_key(src, top));
        out->scores[kept] = (blend && sw > 0) ? up_mean(up_cluster_sum(src, cand, work, i, -1, blend), sw)
                                              : top_score;
        out->anchors[kept] = top;
        kept++;
        for (int32_t j = i; j < cand->count; j++) { /* the cluster is removed */
            if (cand->idx[j] <= -2) {
                cand->idx[j] = -1;
            }
        }
    }
    out->count = kept;
    return UP_OK;
}
#endif

#ifndef UP_NO_SOFT_NMS
/*
 * Soft-NMS. work holds the decoded boxes ([count][4]) then the decayed Q30
 * scores ([count]). Scaling: the IoU value r (Q16, <= 2^16) comes from
 * round(inter * 2^16 / union), inter * 2^16 < 2^63; linear decay
 * s * (2^16 - r) >> 16; Gaussian: x = r^2 (Q32 -> Q16) * inv_sigma (Q16,
 * <= 2^24) -> Q20, below 2^37 before saturation, then s * exp_q20(-x) >> 20.
 */
int32_t up_nms_soft(const up_source_t *src, up_candidates_t *cand, int32_t *work, up_output_t *out)
{
    const up_config_t *cfg = src->cfg;
    int32_t n = cand->count;
    int32_t *score = work + (size_t)n * 4u;
    bool gaussian = cfg->nms_kind == UP_NMS_SOFT_GAUSSIAN;
    int32_t kept = 0;
    up_decode_all(src, cand, work);
    for (int32_t i = 0; i < n; i++) {
        score[i] = up_score_of_key(cfg, up_key(src, cand->idx[i]));
    }
    while (kept < cfg->max_detections) {
        int32_t best = -1;
        for (int32_t i = 0; i < n; i++) {
            int32_t a = cand->idx[i];
            if (a >= 0 && (best < 0 || score[i] > score[best] ||
                           (score[i] == score[best] && a < cand->idx[best]))) {
                best = i;
            }
        }
        if (best < 0 || score[best] <= cfg->soft_min_q30) {
            break;
        }
        const int32_t *bb = work + (size_t)best * 4u;
        up_emit(src, out, kept, cand->idx[best], bb, score[best]);
        kept++;
        cand->idx[best] = -1;
        for (int32_t i = 0; i < n; i++) {
            if (cand->idx[i] < 0) {
                continue;
            }
            const int32_t *b = work + (size_t)i * 4u;
            int64_t inter;
            int64_t uni;
            if (!gaussian && !up_iou_exceeds(cfg, bb, b)) {
                continue;
            }
            up_overlap(cfg, bb, b, &inter, &uni);
            if (inter <= 0) {
                continue;
            }
            int64_t r = (int64_t)up_udiv_round((uint64_t)inter << 16, (uint64_t)uni);
            int64_t f;
            if (gaussian) {
                int64_t x = up_rshift_round(up_rshift_round(r * r, 16) * cfg->soft_inv_sigma_q16, 12);
                f = up_exp_q20(-up_sat32(x));
                score[i] = (int32_t)up_rshift_round((int64_t)score[i] * f, 20);
            } else {
                f = 65536 - r;
                score[i] = (int32_t)up_rshift_round((int64_t)score[i] * f, 16);
            }
        }
    }
    out->count = kept;
    return UP_OK;
}
#endif
