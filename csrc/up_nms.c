/*
 * Greedy hard NMS over candidates sorted best first. Each candidate is decoded
 * only when reached and compared with the boxes already kept (held in the
 * caller's output), which gives the same decisions as suppressing every
 * remaining box against each kept one.
 */
#include "up_internal.h"

static inline int64_t up_max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static inline int64_t up_min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/*
 * IoU(a, b) > t, tested without division as inter * 2^16 > t_q16 * union.
 * Scaling and overflow: corners are Q20 within +-4.0 (2^22), so widths are
 * below 2^23, areas (Q40) below 2^46, the union below 2^47 + eps; both sides
 * stay below 2^63 in int64. Widths and heights are clipped at 0, so an
 * inverted box has area 0; a zero union with eps 0 never suppresses.
 */
static bool up_iou_exceeds(const up_config_t *cfg, const int32_t *a, const int32_t *b)
{
    int64_t iw = up_min64(a[2], b[2]) - up_max64(a[0], b[0]);
    int64_t ih = up_min64(a[3], b[3]) - up_max64(a[1], b[1]);
    if (iw <= 0 || ih <= 0) {
        return false; /* no overlap: inter = 0 never exceeds t * union >= 0 */
    }
    int64_t area_a = up_max64((int64_t)a[2] - a[0], 0) * up_max64((int64_t)a[3] - a[1], 0);
    int64_t area_b = up_max64((int64_t)b[2] - b[0], 0) * up_max64((int64_t)b[3] - b[1], 0);
    int64_t inter = iw * ih;
    int64_t uni = area_a + area_b - inter + cfg->iou_eps_q40;
    return inter * 65536 > (int64_t)cfg->iou_q16 * uni;
}

int32_t up_nms(const up_source_t *src, const up_candidates_t *cand, up_output_t *out)
{
    const up_config_t *cfg = src->cfg;
    int32_t kept = 0;
    for (int32_t i = 0; i < cand->count && kept < cfg->max_detections; i++) {
        int32_t anchor = cand->idx[i];
        int32_t raw[4];
        int32_t box[4];
        up_raw_box(src, anchor, raw);
        up_decode(cfg, anchor, raw, box);
        bool suppressed = false;
        for (int32_t j = 0; j < kept && !suppressed; j++) {
            suppressed = up_iou_exceeds(cfg, box, out->boxes + (size_t)j * 4u);
        }
        if (!suppressed) {
            for (int k = 0; k < 4; k++) {
                out->boxes[(size_t)kept * 4u + (size_t)k] = box[k];
            }
            out->scores[kept] = up_score_of_key(cfg, up_key(src, anchor));
            out->anchors[kept] = anchor;
            kept++;
        }
    }
    out->count = kept;
    return UP_OK;
}
