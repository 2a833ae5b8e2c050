/* Config check, scratch size and the pipeline entry point. */
#include "up_internal.h"

int32_t up_check_config(const up_config_t *cfg)
{
    if (!cfg) {
        return UP_ERR_NULL;
    }
    if (cfg->num_anchors <= 0 || cfg->num_anchors > UP_MAX_ANCHORS) {
        return UP_ERR_NUM_ANCHORS;
    }
    if (cfg->input_kind > UP_INPUT_F32 || cfg->score_kind > UP_SCORE_LOGIT2 ||
        cfg->box_kind > UP_BOX_CORNERS || cfg->nms_kind > UP_NMS_HARD) {
        return UP_ERR_CONFIG;
    }
    if (cfg->num_classes < 2 || cfg->class_index < 0 || cfg->class_index >= cfg->num_classes) {
        return UP_ERR_CONFIG;
    }
    if (cfg->score_kind == UP_SCORE_LOGIT2 && (cfg->num_classes != 2)) {
        return UP_ERR_CONFIG;
    }
    if (cfg->candidate_limit < 1 || cfg->candidate_limit > cfg->num_anchors ||
        cfg->max_detections < 1 || cfg->max_detections > cfg->candidate_limit) {
        return UP_ERR_CONFIG;
    }
    if (cfg->iou_q16 < 0 || cfg->iou_q16 >= (1 << UP_Q_IOU) || cfg->iou_eps_q40 < 0 ||
        cfg->iou_eps_q40 > ((int64_t)1 << 40)) {
        return UP_ERR_CONFIG;
    }
    if (cfg->input_kind == UP_INPUT_S8) {
        if (!cfg->score_lut) {
            return UP_ERR_NULL;
        }
        if (cfg->box_kind == UP_BOX_DELTAS ? (!cfg->center_lut || !cfg->size_lut) : !cfg->box_lut) {
            return UP_ERR_NULL;
        }
    }
    if (cfg->box_kind == UP_BOX_DELTAS) {
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

size_t up_scratch_size(const up_config_t *cfg)
{
    if (up_check_config(cfg) != UP_OK) {
        return 0;
    }
    return (size_t)cfg->candidate_limit * sizeof(int32_t);
}

int32_t up_check_run(const up_config_t *cfg, int32_t score_stride, int32_t box_stride,
                     size_t scratch_size, size_t scratch_needed, const void *scratch,
                     const up_output_t *out)
{
    if (!out || !out->boxes || !out->scores || !out->anchors || !scratch) {
        return UP_ERR_NULL;
    }
    if (out->capacity < cfg->max_detections) {
        return UP_ERR_OUTPUT;
    }
    if (scratch_size < scratch_needed || ((uintptr_t)scratch & 3u)) {
        return UP_ERR_SCRATCH;
    }
    if (score_stride < cfg->num_classes || box_stride < 4) {
        return UP_ERR_STRIDE;
    }
    return UP_OK;
}

int32_t up_finish(const up_source_t *src, up_candidates_t *cand, up_output_t *out)
{
    up_candidates_sort(src, cand);
    return up_nms(src, cand, out);
}

int32_t up_run(const up_config_t *cfg, const void *scores, int32_t score_stride,
               const void *boxes, int32_t box_stride, void *scratch, size_t scratch_size,
               up_output_t *out)
{
    int32_t status = up_check_config(cfg);
    if (status != UP_OK) {
        return status;
    }
    if (cfg->input_kind == UP_INPUT_F32) {
        return UP_ERR_CONFIG; /* float inputs go through up_run_f32 on the host */
    }
    if (!scores || !boxes) {
        return UP_ERR_NULL;
    }
    status = up_check_run(cfg, score_stride, box_stride, scratch_size, up_scratch_size(cfg), scratch, out);
    if (status != UP_OK) {
        return status;
    }
    up_source_t src = {cfg, scores, score_stride, boxes, box_stride, 0, 0};
    up_candidates_t cand = {(int32_t *)scratch, 0, cfg->candidate_limit};
    up_select(&src, &cand);
    return up_finish(&src, &cand, out);
}
