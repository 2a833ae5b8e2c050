/* Config check, scratch size and the pipeline entry points. */
#include "up_internal.h"

static bool up_nms_kind_supported(uint8_t kind)
{
    switch (kind) {
    case UP_NMS_HARD:
        return true;
#ifndef UP_NO_MERGE_NMS
    case UP_NMS_BLEND:
    case UP_NMS_WEIGHTED:
        return true;
#endif
#ifndef UP_NO_SOFT_NMS
    case UP_NMS_SOFT_LINEAR:
    case UP_NMS_SOFT_GAUSSIAN:
        return true;
#endif
    default:
        return false;
    }
}

/* The fields added in version 0.2 (all 0 = the 0.1 behaviour). */
static int32_t up_check_extensions(const up_config_t *cfg)
{
    if (cfg->pad_x_q20 < 0 || cfg->pad_x_q20 > UP_ONE_BOX || cfg->pad_y_q20 < 0 ||
        cfg->pad_y_q20 > UP_ONE_BOX || cfg->logit_clip_q20 < 0 || cfg->soft_min_q30 < 0 ||
        cfg->soft_min_q30 > UP_ONE_SCORE || cfg->soft_inv_sigma_q16 < 0 ||
        cfg->soft_inv_sigma_q16 > UP_MAX_INV_SIGMA_Q16) {
        return UP_ERR_CONFIG;
    }
    if (cfg->nms_kind == UP_NMS_SOFT_GAUSSIAN && cfg->soft_inv_sigma_q16 == 0) {
        return UP_ERR_CONFIG;
    }
    if ((cfg->nms_kind == UP_NMS_BLEND || cfg->nms_kind == UP_NMS_WEIGHTED) &&
        cfg->candidate_limit > UP_MAX_MERGE_CANDIDATES) {
        return UP_ERR_CONFIG;
    }
    if (cfg->num_keypoints < 0 || cfg->num_keypoints > UP_MAX_KEYPOINTS || cfg->num_labels < 0) {
        return UP_ERR_CONFIG;
    }
    if (cfg->num_keypoints > 0) {
#ifdef UP_NO_KEYPOINTS
        return UP_ERR_CONFIG;
#endif
        if (cfg->box_kind == UP_BOX_CORNERS) {
            return UP_ERR_CONFIG; /* keypoints are decoded against priors */
        }
        if (cfg->input_kind == UP_INPUT_S8 && !cfg->keypoint_lut) {
            return UP_ERR_NULL;
        }
    }
    if (cfg->num_labels > 0) {
#ifdef UP_NO_LABELS
        return UP_ERR_CONFIG;
#endif
        if (cfg->num_labels > cfg->num_classes - cfg->class_index || /* no overflow: both sides >= 0 */
            (cfg->score_kind == UP_SCORE_LOGIT2 && cfg->num_labels > 1)) {
            return UP_ERR_CONFIG;
        }
        if (!cfg->label_bounds) {
            return UP_ERR_NULL;
        }
    }
    return UP_OK;
}

int32_t up_check_config(const up_config_t *cfg)
{
    if (!cfg) {
        return UP_ERR_NULL;
    }
    if (cfg->num_anchors <= 0 || cfg->num_anchors > UP_MAX_ANCHORS) {
        return UP_ERR_NUM_ANCHORS;
    }
    if (cfg->input_kind > UP_INPUT_F32 || cfg->score_kind > UP_SCORE_LOGIT1 ||
        cfg->box_kind > UP_BOX_LINEAR || !up_nms_kind_supported(cfg->nms_kind)) {
        return UP_ERR_CONFIG;
    }
    if (cfg->num_classes < 1 || cfg->class_index < 0 || cfg->class_index >= cfg->num_classes) {
        return UP_ERR_CONFIG;
    }
    if (cfg->score_kind == UP_SCORE_LOGIT2 && (cfg->num_classes != 2)) {
        return UP_ERR_CONFIG;
    }
    if (cfg->candidate_limit < 1 || cfg->candidate_limit > cfg->num_anchors ||
        cfg->max_detections < 1 || cfg->max_detections > cfg->candidate_limit) {
        return UP_ERR_CONFIG;
    }
    if (up_check_iou(cfg) != UP_OK || cfg->iou_eps_q40 < 0 || cfg->iou_eps_q40 > ((int64_t)1 << 40)) {
        return UP_ERR_CONFIG;
    }
    int32_t status = up_check_extensions(cfg);
    if (status != UP_OK) {
        return status;
    }
    if (cfg->input_kind == UP_INPUT_S8) {
        if (!cfg->score_lut) {
            return UP_ERR_NULL;
        }
        if (cfg->box_kind != UP_BOX_CORNERS ? (!cfg->center_lut || !cfg->size_lut) : !cfg->box_lut) {
            return UP_ERR_NULL;
        }
    }
    if (cfg->box_kind != UP_BOX_CORNERS) {
        if (!cfg->priors) {
            return UP_ERR_NULL;
        }
        if (cfg->input_kind != UP_INPUT_S8 &&
            (cfg->var_center_q30 <= 0 || cfg->var_center_q30 > UP_ONE_SCORE ||
             cfg->var_size_q30 <= 0 || cfg->var_size_q30 > UP_ONE_SCORE)) {
            return UP_ERR_CONFIG;
        }
    }
    return UP_OK;
}

size_t up_scratch_bytes(const up_config_t *cfg)
{
    size_t per = sizeof(int32_t); /* candidate index */
    if (cfg->nms_kind != UP_NMS_HARD) {
        per += 4u * sizeof(int32_t); /* decoded box */
    }
    if (cfg->nms_kind >= UP_NMS_SOFT_LINEAR) {
        per += sizeof(int32_t); /* decayed score */
    }
    return (size_t)cfg->candidate_limit * per;
}

size_t up_scratch_size(const up_config_t *cfg)
{
    return up_check_config(cfg) == UP_OK ? up_scratch_bytes(cfg) : 0;
}

int32_t up_check_run(const up_config_t *cfg, int32_t score_stride, int32_t box_stride,
                     int32_t keypoint_stride, size_t scratch_size, size_t scratch_needed,
                     const void *scratch, const up_output_t *out)
{
    if (!out || !out->boxes || !out->scores || !out->anchors || !scratch) {
        return UP_ERR_NULL;
    }
    if ((cfg->num_keypoints > 0 && !out->keypoints) || (cfg->num_labels > 0 && !out->labels)) {
        return UP_ERR_NULL;
    }
    int32_t per_class = cfg->max_detections;
    if ((int64_t)out->capacity < (int64_t)per_class * (cfg->num_labels > 0 ? cfg->num_labels : 1)) {
        return UP_ERR_OUTPUT;
    }
    if (scratch_size < scratch_needed || ((uintptr_t)scratch & 3u)) {
        return UP_ERR_SCRATCH;
    }
    if (score_stride < cfg->num_classes || box_stride < 4 ||
        (cfg->num_keypoints > 0 && keypoint_stride < 2 * cfg->num_keypoints)) {
        return UP_ERR_STRIDE;
    }
    return UP_OK;
}

/* Sorts the selected candidates and runs the config's NMS into out. */
static int32_t up_finish(const up_source_t *src, up_candidates_t *cand, up_output_t *out)
{
    up_candidates_sort(src, cand);
    int32_t *work = cand->idx + cand->limit;
    switch (src->cfg->nms_kind) {
#ifndef UP_NO_MERGE_NMS
    case UP_NMS_BLEND:
    case UP_NMS_WEIGHTED:
        return up_nms_merge(src, cand, work, out);
#endif
#ifndef UP_NO_SOFT_NMS
    case UP_NMS_SOFT_LINEAR:
    case UP_NMS_SOFT_GAUSSIAN:
        return up_nms_soft(src, cand, work, out);
#endif
    default:
        (void)work;
        return up_nms_hard(src, cand, out);
    }
}

#ifndef UP_NO_LABELS
/* One selection and NMS per class column, each into the output rows after the previous ones. Kept out
 * of up_run_source (and not inlined) so that its output view is not on the stack of one-class runs. */
UP_NOINLINE static int32_t up_run_labels(up_source_t *src, up_candidates_t *cand, up_output_t *out)
{
    const up_config_t *cfg = src->cfg;
    int32_t total = 0;
    for (int32_t l = 0; l < cfg->num_labels; l++) {
        up_output_t view = *out;
        view.boxes += (size_t)total * 4u;
        view.scores += total;
        view.anchors += total;
        if (cfg->num_keypoints > 0) {
            view.keypoints += (size_t)total * 2u * (size_t)cfg->num_keypoints;
        }
        src->column = cfg->class_index + l;
        src->bound = cfg->label_bounds[l];
        cand->count = 0;
        cand->heap = false;
        up_select(src, cand);
        int32_t status = up_finish(src, cand, &view);
        if (status != UP_OK) {
            return status;
        }
        for (int32_t k = 0; k < view.count; k++) {
            out->labels[total + k] = src->column;
        }
        total += view.count;
    }
    out->count = total;
    return UP_OK;
}
#endif

/* Selects, sorts and suppresses; UP_ERR_RANGE if a value was out of range on the way. */
static int32_t up_run_classes(up_source_t *src, void *scratch, up_output_t *out)
{
    const up_config_t *cfg = src->cfg;
    up_candidates_t cand;
    cand.idx = (int32_t *)scratch;
    cand.count = 0;
    cand.limit = cfg->candidate_limit;
    cand.heap = false;
    src->column = cfg->class_index;
    src->bound = cfg->score_bound;
#ifndef UP_NO_LABELS
    if (cfg->num_labels > 0) {
        return up_run_labels(src, &cand, out);
    }
#endif
    up_select(src, &cand);
    return up_finish(src, &cand, out);
}

int32_t up_run_source(up_source_t *src, void *scratch, up_output_t *out)
{
    int32_t status = up_run_classes(src, scratch, out);
    return status == UP_OK && src->range ? UP_ERR_RANGE : status;
}

/* Fills every field (an aggregate initializer would be zero-filled with a libc memset call). */
static void up_source_set(up_source_t *src, const up_config_t *cfg, const void *scores,
                          int32_t score_stride, const void *boxes, int32_t box_stride,
                          const void *keypoints, int32_t keypoint_stride)
{
    src->cfg = cfg;
    src->scores = scores;
    src->score_stride = score_stride;
    src->boxes = boxes;
    src->box_stride = box_stride;
    src->keypoints = keypoints;
    src->keypoint_stride = keypoint_stride;
    src->column = 0;
    src->bound = 0;
    src->range = 0;
}

/* Checks a run's config and arguments before the pipeline is entered (so the
 * checks' frames are not part of the pipeline's stack depth). */
static int32_t up_check_source(const up_source_t *src, void *scratch, size_t scratch_size,
                               const up_output_t *out)
{
    const up_config_t *cfg = src->cfg;
    int32_t status = up_check_config(cfg);
    if (status != UP_OK) {
        return status;
    }
    if (cfg->input_kind == UP_INPUT_F32) {
        return UP_ERR_CONFIG; /* float32 tensors are converted to the core's integers before the core */
    }
    if (!src->scores || !src->boxes || (cfg->num_keypoints > 0 && !src->keypoints)) {
        return UP_ERR_NULL;
    }
    return up_check_run(cfg, src->score_stride, src->box_stride, src->keypoint_stride, scratch_size,
                        up_scratch_bytes(cfg), scratch, out);
}

/* up_run_keypoints and up_run each fill the source and run it themselves rather than through a shared helper:
 * one frame less on the deepest call chain keeps the minimal build's stack within 256 bytes. */
int32_t up_run_keypoints(const up_config_t *cfg, const void *scores, int32_t score_stride,
                         const void *boxes, int32_t box_stride, const void *keypoints,
                         int32_t keypoint_stride, void *scratch, size_t scratch_size,
                         up_output_t *out)
{
    up_source_t src;
    up_source_set(&src, cfg, scores, score_stride, boxes, box_stride, keypoints, keypoint_stride);
    int32_t status = up_check_source(&src, scratch, scratch_size, out);
    if (status != UP_OK) {
        return status;
    }
    return up_run_source(&src, scratch, out);
}

int32_t up_run(const up_config_t *cfg, const void *scores, int32_t score_stride,
               const void *boxes, int32_t box_stride, void *scratch, size_t scratch_size,
               up_output_t *out)
{
    up_source_t src;
    up_source_set(&src, cfg, scores, score_stride, boxes, box_stride, 0, box_stride);
    if (cfg && boxes && cfg->num_keypoints > 0) {
        /* keypoints follow the 4 box values in each box row */
        if (box_stride < 4 + 2 * cfg->num_keypoints) {
            return UP_ERR_STRIDE;
        }
        src.keypoints = cfg->input_kind == UP_INPUT_S8 ? (const void *)((const int8_t *)boxes + 4)
                                                       : (const void *)((const int32_t *)boxes + 4);
    }
    int32_t status = up_check_source(&src, scratch, scratch_size, out);
    if (status != UP_OK) {
        return status;
    }
    return up_run_source(&src, scratch, out);
}
