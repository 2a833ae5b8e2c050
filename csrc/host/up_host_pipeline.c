/*
 * The host's composition of the core's stages: the entry points of up_host.h. Per class: the selection (the
 * core's up_select, or the host's float32 selection), the core's sort unless that left keep order already, then
 * NMS: the host's hard NMS when the scratch has room for its kept-box blocks, else the core's NMS of the config's
 * kind. up_pipeline.c composes the same stages for firmware, with none of the host's.
 */
#include "up_host_internal.h"

/* Where the host's own buffers start in a scratch (8-byte aligned): after the core's and the kept-box blocks. */
static size_t up_host_offset(const up_config_t *cfg)
{
    return (up_scratch_bytes(cfg) + up_host_kept_bytes(cfg) + 7u) & ~(size_t)7u;
}

/* int8 / int32 scratch: the core's, the kept boxes in blocks, then two buffers of candidate_limit uint64 (the
 * host's sort of the held candidates). */
static size_t up_host_bytes(const up_config_t *cfg)
{
    return up_host_offset(cfg) + 2u * (size_t)cfg->candidate_limit * sizeof(uint64_t);
}

size_t up_host_scratch_size(const up_config_t *cfg)
{
    return up_check_config(cfg) == UP_OK ? up_host_bytes(cfg) : 0;
}

/* Float32 scratch: the core's, the kept boxes in blocks, one key per anchor, then two packed candidate buffers of
 * one uint64 per anchor (8-byte aligned), then the converted keypoint rows [N][2P]. */
static size_t up_keys_offset(const up_config_t *cfg)
{
    return up_host_offset(cfg);
}

static size_t up_packed_offset(const up_config_t *cfg)
{
    return (up_keys_offset(cfg) + (size_t)cfg->num_anchors * sizeof(int32_t) + 7u) & ~(size_t)7u;
}

static size_t up_keypoint_rows_offset(const up_config_t *cfg)
{
    return up_packed_offset(cfg) + 2u * (size_t)cfg->num_anchors * sizeof(uint64_t);
}

static size_t up_f32_bytes(const up_config_t *cfg)
{
    return up_keypoint_rows_offset(cfg) +
           (size_t)cfg->num_anchors * 2u * (size_t)cfg->num_keypoints * sizeof(int32_t);
}

size_t up_scratch_size_f32(const up_config_t *cfg)
{
    return up_check_config(cfg) == UP_OK ? up_f32_bytes(cfg) : 0;
}

/* up_run's checks, for int8 / int32 (f32 false) or float32 tensors, with the scratch the run needs. */
static int32_t up_host_check(const up_config_t *cfg, bool f32, const void *scores, int32_t score_stride,
                             const void *boxes, int32_t box_stride, const void *keypoints, int32_t keypoint_stride,
                             const void *scratch, size_t scratch_size, const up_output_t *out)
{
    int32_t status = up_check_config(cfg);
    if (status != UP_OK) {
        return status;
    }
    if ((cfg->input_kind == UP_INPUT_F32) != f32) {
        return UP_ERR_CONFIG;
    }
    if (!scores || !boxes || (cfg->num_keypoints > 0 && !keypoints)) {
        return UP_ERR_NULL;
    }
    if (f32 && cfg->score_kind == UP_SCORE_LOGIT2 && !cfg->score_lut) {
        return UP_ERR_NULL; /* the words of the exact two-logit test (up_host.h) */
    }
    return up_check_run(cfg, score_stride, box_stride, keypoint_stride, scratch_size,
                        f32 ? up_f32_bytes(cfg) : up_scratch_bytes(cfg), scratch, out);
}

/* One class into out: select, sort (the host's selection and sort stand in for the core's where the scratch has
 * room), suppress. */
static int32_t up_host_class(up_host_source_t *h, int32_t column, int32_t bound, up_candidates_t *cand,
                             up_output_t *out)
{
    cand->count = 0;
    cand->heap = false;
    h->src.bound = bound;
    if (h->scores) {
        up_host_select_f32(h, column, bound, cand); /* in keep order */
    } else {
        h->src.column = column;
        up_select(&h->src, cand);
        if (h->packed) {
            up_host_sort_held(h, cand);
        } else {
            up_candidates_sort(&h->src, cand);
        }
    }
    uint8_t kind = h->src.cfg->nms_kind;
    if (kind == UP_NMS_HARD && h->kept_blocks) {
        return up_host_nms_hard(h, cand, out);
    }
    up_host_convert_rows(h, cand); /* float32: the rows the core's NMS reads */
    int32_t *work = cand->idx + cand->limit;
#ifndef UP_NO_MERGE_NMS
    if (kind == UP_NMS_BLEND || kind == UP_NMS_WEIGHTED) {
        return up_nms_merge(&h->src, cand, work, out);
    }
#endif
#ifndef UP_NO_SOFT_NMS
    if (kind == UP_NMS_SOFT_LINEAR || kind == UP_NMS_SOFT_GAUSSIAN) {
        return up_nms_soft(&h->src, cand, work, out);
    }
#endif
    (void)work;
    return up_nms_hard(&h->src, cand, out);
}

/* Every class of a checked run into out: one, or num_labels classes, each after the rows of the previous ones. */
static int32_t up_host_each_class(up_host_source_t *h, void *scratch, up_output_t *out)
{
    const up_config_t *cfg = h->cfg;
    up_candidates_t cand;
    cand.idx = (int32_t *)scratch;
    cand.limit = cfg->candidate_limit;
    if (cfg->num_labels == 0) {
        return up_host_class(h, cfg->class_index, cfg->score_bound, &cand, out);
    }
    int32_t total = 0;
    for (int32_t l = 0; l < cfg->num_labels; l++) {
        up_output_t view = *out; /* the rows after the previous classes' */
        view.boxes += (size_t)total * 4u;
        view.scores += total;
        view.anchors += total;
        if (cfg->num_keypoints > 0) {
            view.keypoints += (size_t)total * 2u * (size_t)cfg->num_keypoints;
        }
        int32_t column = cfg->class_index + l;
        int32_t status = up_host_class(h, column, cfg->label_bounds[l], &cand, &view);
        if (status != UP_OK) {
            return status;
        }
        for (int32_t k = 0; k < view.count; k++) {
            out->labels[total + k] = column;
        }
        total += view.count;
    }
    out->count = total;
    return UP_OK;
}

/* The run's classes; UP_ERR_RANGE if a value was out of range on the way (as the core's up_run_source). */
static int32_t up_host_classes(up_host_source_t *h, void *scratch, up_output_t *out)
{
    int32_t status = up_host_each_class(h, scratch, out);
    return status == UP_OK && h->src.range ? UP_ERR_RANGE : status;
}

/* h for the core's stages reading the given tensors; the float32 fields empty (h->view unset: float32 runs set it). */
static void up_host_source_set(up_host_source_t *h, const up_config_t *cfg, const void *scores,
                               int32_t score_stride, const void *boxes, int32_t box_stride, const void *keypoints,
                               int32_t keypoint_stride)
{
    h->src.cfg = cfg;
    h->src.scores = scores;
    h->src.score_stride = score_stride;
    h->src.boxes = boxes;
    h->src.box_stride = box_stride;
    h->src.keypoints = keypoints;
    h->src.keypoint_stride = keypoint_stride;
    h->src.column = cfg->class_index;
    h->src.bound = cfg->score_bound;
    h->src.range = 0;
    h->cfg = cfg;
    h->scores = 0;
    h->boxes = 0;
    h->keypoints = 0;
    h->score_stride = 0;
    h->box_stride = 0;
    h->keypoint_stride = 0;
    h->keys = 0;
    h->packed = 0;
    h->packed_count = -1;
    h->keypoint_rows = 0;
    h->kept_blocks = 0;
}

int32_t up_host_run_keypoints(const up_config_t *cfg, const void *scores, int32_t score_stride,
                              const void *boxes, int32_t box_stride, const void *keypoints,
                              int32_t keypoint_stride, void *scratch, size_t scratch_size,
                              up_output_t *out)
{
    int32_t status = up_host_check(cfg, false, scores, score_stride, boxes, box_stride, keypoints,
                                   keypoint_stride, scratch, scratch_size, out);
    if (status != UP_OK) {
        return status;
    }
    up_host_source_t h;
    up_host_source_set(&h, cfg, scores, score_stride, boxes, box_stride, keypoints, keypoint_stride);
    if (scratch_size >= up_host_bytes(cfg)) {
        h.kept_blocks = up_host_kept_blocks(cfg, scratch);
        h.packed = (uint64_t *)((char *)scratch + up_host_offset(cfg));
    }
    return up_host_classes(&h, scratch, out);
}

int32_t up_host_run(const up_config_t *cfg, const void *scores, int32_t score_stride, const void *boxes,
                    int32_t box_stride, void *scratch, size_t scratch_size, up_output_t *out)
{
    const void *kp = 0;
    if (cfg && boxes && cfg->num_keypoints > 0) {
        /* keypoints follow the 4 box values in each box row */
        if (box_stride < 4 + 2 * cfg->num_keypoints) {
            return UP_ERR_STRIDE;
        }
        kp = cfg->input_kind == UP_INPUT_S8 ? (const void *)((const int8_t *)boxes + 4)
                                            : (const void *)((const int32_t *)boxes + 4);
    }
    return up_host_run_keypoints(cfg, scores, score_stride, boxes, box_stride, kp, box_stride, scratch,
                                 scratch_size, out);
}

int32_t up_run_f32_keypoints(const up_config_t *cfg, const float *scores, int32_t score_stride,
                             const float *boxes, int32_t box_stride, const float *keypoints,
                             int32_t keypoint_stride, void *scratch, size_t scratch_size,
                             up_output_t *out)
{
    int32_t status = up_host_check(cfg, true, scores, score_stride, boxes, box_stride, keypoints, keypoint_stride,
                                   scratch, scratch_size, out);
    if (status != UP_OK) {
        return status;
    }
    int32_t n = cfg->num_anchors;
    int32_t nkp = 2 * cfg->num_keypoints;
    /* A packed output (scores, boxes and keypoints tiling each row), or box rows holding the keypoints after the
     * box (BlazeFace), whose every float is finite and within +-1024: one contiguous scan stands in for the strided
     * per-tensor scans below. */
    bool tiled_kp = nkp > 0 && keypoint_stride == box_stride;
    bool clean = score_stride == box_stride && (nkp == 0 || tiled_kp) &&
                 up_host_rows_clean(scores, cfg->num_classes, boxes, nkp > 0 ? keypoints : 0, nkp, n, box_stride);
    bool boxes_clean = clean || (tiled_kp && up_host_rows_clean(0, 0, boxes, keypoints, nkp, n, box_stride));
    uint32_t kp_bits = nkp > 0 && !boxes_clean ? up_host_rows_max_abs_bits(keypoints, n, nkp, keypoint_stride) : 0;
    if (kp_bits >= UP_F32_INF_BITS) {
        return UP_ERR_NONFINITE;
    }
    char *base = (char *)scratch;
    up_host_source_t h;
    int32_t *keys = (int32_t *)(base + up_keys_offset(cfg));
    uint64_t *packed = (uint64_t *)(base + up_packed_offset(cfg));
    int32_t *keypoint_rows = nkp > 0 ? (int32_t *)(base + up_keypoint_rows_offset(cfg)) : 0;
    /* what the core's stages read: the keys column, the converted rows, and the config as int32 over them */
    up_host_source_set(&h, cfg, keys, 1, packed, 4, keypoint_rows, nkp);
    h.view = *cfg;
    h.view.input_kind = UP_INPUT_I32;
    h.view.score_kind = cfg->score_kind == UP_SCORE_PROB ? UP_SCORE_PROB : UP_SCORE_LOGIT1;
    h.view.logit_clip_q20 = 0;
    h.src.cfg = &h.view;
    h.src.column = 0;
    h.scores = scores;
    h.boxes = boxes;
    h.keypoints = nkp > 0 ? keypoints : 0;
    h.score_stride = score_stride;
    h.box_stride = box_stride;
    h.keypoint_stride = keypoint_stride;
    h.keys = keys;
    h.packed = packed;
    h.keypoint_rows = keypoint_rows;
    h.kept_blocks = up_host_kept_blocks(cfg, scratch);
    uint32_t nonfinite;
    uint32_t logit_bits = 0;
    uint32_t box_bits = 0;
    bool boxes_checked = false;
    if (cfg->score_kind == UP_SCORE_PROB && cfg->num_labels == 0) {
        /* one class of probabilities: the score pass also checks the scores, and maybe the boxes */
        nonfinite = up_host_scan_packed(&h, &boxes_checked, &box_bits);
    } else {
        uint32_t bits = clean ? 0 : up_host_rows_max_abs_bits(scores, n, cfg->num_classes, score_stride);
        nonfinite = bits >= UP_F32_INF_BITS;
        logit_bits = cfg->score_kind == UP_SCORE_PROB ? 0 : bits; /* probabilities above 1: the score test's rule */
    }
    if (boxes_clean) {
        box_bits = 0;
    } else if (!boxes_checked) {
        box_bits = up_host_rows_max_abs_bits(boxes, n, 4, box_stride);
    }
    if (nonfinite || box_bits >= UP_F32_INF_BITS) {
        return UP_ERR_NONFINITE;
    }
    if (logit_bits > UP_F32_LIMIT_BITS || box_bits > UP_F32_LIMIT_BITS || kp_bits > UP_F32_LIMIT_BITS) {
        return UP_ERR_RANGE; /* a float beyond +-1024 would be clamped by the Q20 conversion */
    }
    return up_host_classes(&h, scratch, out);
}

int32_t up_run_f32(const up_config_t *cfg, const float *scores, int32_t score_stride,
                   const float *boxes, int32_t box_stride, void *scratch, size_t scratch_size,
                   up_output_t *out)
{
    const float *kp = 0;
    if (cfg && boxes && cfg->num_keypoints > 0) {
        if (box_stride < 4 + 2 * cfg->num_keypoints) {
            return UP_ERR_STRIDE;
        }
        kp = boxes + 4;
    }
    return up_run_f32_keypoints(cfg, scores, score_stride, boxes, box_stride, kp, box_stride, scratch,
                                scratch_size, out);
}
