/*
 * libFuzzer target for the core (build with clang -fsanitize=fuzzer,address,undefined).
 *
 * The first bytes choose a config (every input, score, box and NMS kind, pads,
 * logit clip, soft-NMS parameters, keypoints, labels; valid and invalid alike:
 * up_check_config / up_run must turn every bad one into a status), strides,
 * capacity, scratch size, which output buffers are given, and whether the
 * keypoints come in the box rows (up_run) or a tensor of their own
 * (up_run_keypoints). Tables come from a generator seeded by those bytes, mixed
 * with extreme values; the remaining bytes fill the input tensors. Every buffer
 * is its own exact-size heap block (outputs the config has no use for are
 * NULL), so ASan sees any access past one.
 *
 * Beyond "no crash, no undefined behaviour":
 *  - an accepted config lies within the ranges ultrapost.h documents, and
 *    up_scratch_size is 0 exactly for rejected ones;
 *  - a run with good arguments returns UP_OK; a bad capacity, scratch, stride
 *    or missing output buffer returns its own status;
 *  - a successful run gives, class by class (labels ascending, at most
 *    max_detections each): anchors unique, in [0, N) and passing the class's
 *    score test; corners and keypoints within [-4, 4] (or [0, 1] with clip);
 *    and per NMS kind (ultrapost.h, up_nms_kind_t):
 *      hard, weighted .... visited best first (key descending, anchor
 *                          ascending), score = the anchor's own score;
 *      blend ............. visited best first, score a mean of scores clamped
 *                          to [0, 1] (int32 probabilities: at most the top's);
 *      soft .............. (score descending, anchor ascending), every score
 *                          above soft_min and at most the anchor's own score;
 *  - keypoints in the box rows (up_run) and in their own tensor
 *    (up_run_keypoints) give identical outputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ultrapost.h"

#ifndef MAX_ANCHORS /* -DMAX_ANCHORS=48: smaller configs, many more executions per second */
#define MAX_ANCHORS 600
#endif
#define MAX_LABEL_TABLE 16

static uint32_t rng_next(uint32_t *s)
{
    /* xorshift32: deterministic per input, no libc state. */
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x ? x : 0x9E3779B9u;
    return *s;
}

/* Mostly plausible values, sometimes the extremes. */
static int32_t table_value(uint32_t *s, int32_t lo, int32_t hi)
{
    uint32_t r = rng_next(s);
    switch (r & 15u) {
    case 0:
        return INT32_MIN;
    case 1:
        return INT32_MAX;
    case 2:
        return 0;
    default:
        return (int32_t)((int64_t)lo + (int64_t)(rng_next(s) % (uint32_t)((int64_t)hi - lo + 1)));
    }
}

static uint32_t take(const uint8_t *d, size_t n, size_t *pos, int bytes)
{
    uint32_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v |= (uint32_t)(*pos < n ? d[*pos] : 0u) << (8 * i);
        (*pos)++;
    }
    return v;
}

static void *block(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1u);
    if (!p) {
        abort();
    }
    return p;
}

static int32_t *table(uint32_t *s, size_t count, int32_t lo, int32_t hi)
{
    int32_t *t = block(count * sizeof(int32_t));
    for (size_t i = 0; i < count; i++) {
        t[i] = table_value(s, lo, hi);
    }
    return t;
}

/* Rows of a tensor as one exact-size block, filled from the fuzz bytes (cycled) or the generator. */
static uint8_t *tensor(size_t bytes, const uint8_t *d, size_t n, uint32_t *s)
{
    uint8_t *t = block(bytes);
    for (size_t i = 0; i < bytes; i++) {
        t[i] = n ? d[i % n] : (uint8_t)rng_next(s);
    }
    return t;
}

static int32_t clamp32(int64_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

/* The exact IoU threshold of ultrapost.h: iou_num / 2^iou_shift in [0, 1] (a float64), iou_q16 its Q16 floor;
 * both 0 for iou_q16 / 2^16. */
static int documented_iou(const up_config_t *c)
{
    int64_t num = c->iou_num;
    int32_t sh = c->iou_shift;
    if (c->iou_q16 < 0 || c->iou_q16 > (1 << 16)) {
        return 0;
    }
    if (num == 0 && sh == 0) {
        return 1;
    }
    if (num < 0 || num > ((int64_t)1 << 53) || sh < 0 || sh > UP_MAX_IOU_SHIFT) {
        return 0;
    }
    /* t = num / 2^sh <= 1 and floor(t * 2^16) == iou_q16, compared as num * 2^16 against q * 2^sh and
     * (q + 1) * 2^sh without shifting past 64 bits */
    if (sh >= 70) {
        return c->iou_q16 == 0; /* t < 2^53 / 2^70 = 2^-17 */
    }
    unsigned __int128 n16 = (unsigned __int128)num << 16, one = (unsigned __int128)1 << sh;
    return num <= (int64_t)(one > ((unsigned __int128)1 << 62) ? INT64_MAX : (int64_t)one) &&
           n16 >= (unsigned __int128)c->iou_q16 * one && n16 < ((unsigned __int128)c->iou_q16 + 1) * one;
}

/* The documented ranges of ultrapost.h; an accepted config must lie within them. */
static int documented(const up_config_t *c)
{
    int merge = c->nms_kind == UP_NMS_BLEND || c->nms_kind == UP_NMS_WEIGHTED;
    return c->num_anchors >= 1 && c->num_anchors <= UP_MAX_ANCHORS && c->input_kind <= UP_INPUT_F32 &&
           c->score_kind <= UP_SCORE_LOGIT1 && c->box_kind <= UP_BOX_LINEAR && c->nms_kind <= UP_NMS_SOFT_GAUSSIAN &&
           c->num_classes >= 1 && c->class_index >= 0 && c->class_index < c->num_classes &&
           (c->score_kind != UP_SCORE_LOGIT2 || c->num_classes == 2) && c->candidate_limit >= 1 &&
           c->candidate_limit <= c->num_anchors && c->max_detections >= 1 &&
           c->max_detections <= c->candidate_limit && documented_iou(c) &&
           c->iou_eps_q40 >= 0 && c->iou_eps_q40 <= ((int64_t)1 << 40) && c->pad_x_q20 >= 0 &&
           c->pad_x_q20 <= UP_ONE_BOX && c->pad_y_q20 >= 0 && c->pad_y_q20 <= UP_ONE_BOX &&
           c->logit_clip_q20 >= 0 && c->soft_min_q30 >= 0 && c->soft_min_q30 <= UP_ONE_SCORE &&
           c->soft_inv_sigma_q16 >= 0 && c->soft_inv_sigma_q16 <= UP_MAX_INV_SIGMA_Q16 &&
           (c->nms_kind != UP_NMS_SOFT_GAUSSIAN || c->soft_inv_sigma_q16 > 0) &&
           (!merge || c->candidate_limit <= UP_MAX_MERGE_CANDIDATES) && c->num_keypoints >= 0 &&
           c->num_keypoints <= UP_MAX_KEYPOINTS && (c->num_keypoints == 0 || c->box_kind != UP_BOX_CORNERS) &&
           c->num_labels >= 0 && (int64_t)c->class_index + c->num_labels <= c->num_classes &&
           (c->num_labels <= 1 || c->score_kind != UP_SCORE_LOGIT2) &&
           (c->num_labels == 0 || c->label_bounds) && (c->num_keypoints == 0 || c->input_kind != UP_INPUT_S8 ||
                                                       c->keypoint_lut) &&
           (c->box_kind == UP_BOX_CORNERS || c->priors) &&
           (c->input_kind != UP_INPUT_S8 || c->score_lut) &&
           (c->input_kind != UP_INPUT_S8 ||
            (c->box_kind == UP_BOX_CORNERS ? c->box_lut != NULL : c->center_lut && c->size_lut));
}

/* The score key of one anchor in one score column (ultrapost.h, "Score keys and bounds"). */
static int32_t key_of(const up_config_t *c, const void *scores, int32_t stride, int32_t a, int32_t col)
{
    if (c->input_kind == UP_INPUT_S8) {
        const int8_t *row = (const int8_t *)scores + (size_t)a * (size_t)stride;
        return c->score_kind == UP_SCORE_LOGIT2 ? (int32_t)row[col] - row[1 - col] : row[col];
    }
    const int32_t *row = (const int32_t *)scores + (size_t)a * (size_t)stride;
    if (c->score_kind == UP_SCORE_PROB) {
        return row[col];
    }
    if (c->score_kind == UP_SCORE_LOGIT2) {
        return clamp32((int64_t)row[col] - row[1 - col], INT32_MIN, INT32_MAX);
    }
    int32_t clip = c->logit_clip_q20;
    return clip > 0 ? clamp32(row[col], -clip, clip) : row[col];
}

/* Value k of row a of an int8 or int32 tensor. */
static int32_t raw_of(const up_config_t *c, const void *t, int32_t stride, int32_t a, int32_t k)
{
    size_t at = (size_t)a * (size_t)stride + (size_t)k;
    return c->input_kind == UP_INPUT_S8 ? ((const int8_t *)t)[at] : ((const int32_t *)t)[at];
}

static int64_t rsr(int64_t x, int n) /* round half up, then shift (as the core's rounding) */
{
    return (x + ((int64_t)1 << (n - 1))) >> n;
}

/* An oracle of up_decode.c's range rule, written from ultrapost.h: whether anchor a's box is out of range (a
 * corner beyond +-4 without clip; a size factor at INT32_MAX unless clip and the box covers [0, 1]). */
static int box_out_of_range(const up_config_t *c, const void *boxes, int32_t stride, int32_t a)
{
    bool s8 = c->input_kind == UP_INPUT_S8;
    if (c->box_kind == UP_BOX_CORNERS) {
        for (int k = 0; !c->clip && k < 4; k++) {
            int32_t r = raw_of(c, boxes, stride, a, k);
            int32_t v = s8 ? c->box_lut[r + 128] : r;
            if (v < -UP_BOX_LIMIT || v > UP_BOX_LIMIT) {
                return 1;
            }
        }
        return 0;
    }
    const int32_t *p = c->priors + (size_t)a * 4u;
    for (int k = 0; k < 2; k++) {
        int32_t rc = raw_of(c, boxes, stride, a, k), rs = raw_of(c, boxes, stride, a, k + 2);
        int64_t cf = s8 ? c->center_lut[rc + 128] : clamp32(rsr((int64_t)rc * c->var_center_q30, 30), INT32_MIN, INT32_MAX);
        int32_t e = s8 ? c->size_lut[rs + 128] : clamp32(rsr((int64_t)rs * c->var_size_q30, 30), INT32_MIN, INT32_MAX);
        if (!s8 && c->box_kind == UP_BOX_DELTAS) {
            e = up_exp_q20(e);
        }
        int64_t center = p[k] + rsr(cf * p[k + 2], 20);
        int64_t half = rsr(rsr((int64_t)e * p[k + 2], 20), 1);
        bool sat = e == INT32_MAX;
        if (c->clip ? sat && (center - half > 0 || center + half < UP_ONE_BOX)
                    : sat || center - half < -UP_BOX_LIMIT || center + half > UP_BOX_LIMIT) {
            return 1;
        }
    }
    return 0;
}

/* Whether one of anchor a's keypoints is beyond +-4 without clip (the core decodes those of kept and merged
 * candidates only, so this says a range status may come). */
static int keypoints_out_of_range(const up_config_t *c, const void *kps, int32_t stride, int32_t a)
{
    if (c->clip || !kps || !c->priors) {
        return 0;
    }
    const int32_t *p = c->priors + (size_t)a * 4u;
    for (int32_t k = 0; k < 2 * c->num_keypoints; k++) {
        int32_t r = raw_of(c, kps, stride, a, k);
        int64_t cf = c->input_kind == UP_INPUT_S8 ? c->keypoint_lut[r + 128]
                                                  : clamp32(rsr((int64_t)r * c->var_center_q30, 30), INT32_MIN, INT32_MAX);
        int64_t v = p[k & 1] + rsr(cf * p[2 + (k & 1)], 20);
        if (v < -UP_BOX_LIMIT || v > UP_BOX_LIMIT) {
            return 1;
        }
    }
    return 0;
}

/* Whether an anchor passing the score test of some class has a box or keypoint out of range: the one cause of
 * UP_ERR_RANGE for a checked config with good arguments. */
static int range_possible(const up_config_t *c, const void *scores, int32_t score_stride, const void *boxes,
                          int32_t box_stride, const void *kps, int32_t kp_stride)
{
    int32_t classes = c->num_labels > 0 ? c->num_labels : 1;
    for (int32_t a = 0; a < c->num_anchors; a++) {
        int passes = 0;
        for (int32_t l = 0; l < classes; l++) {
            int32_t bound = c->num_labels > 0 ? c->label_bounds[l] : c->score_bound;
            passes |= key_of(c, scores, score_stride, a, c->class_index + l) > bound;
        }
        if (passes && (box_out_of_range(c, boxes, box_stride, a) || keypoints_out_of_range(c, kps, kp_stride, a))) {
            return 1;
        }
    }
    return 0;
}

static int32_t score_of(const up_config_t *c, int32_t key)
{
    if (c->input_kind == UP_INPUT_S8) {
        return c->score_kind == UP_SCORE_LOGIT2 ? c->score_lut[key + 255] : c->score_lut[key + 128];
    }
    return c->score_kind == UP_SCORE_PROB ? key : up_sigmoid_q30(key);
}

typedef struct {
    int32_t *boxes, *scores, *anchors, *keypoints, *labels;
    int32_t capacity;
} outputs_t;

static void outputs_alloc(outputs_t *o, int32_t capacity, int32_t nkp, int labels)
{
    size_t cap = (size_t)capacity;
    o->capacity = capacity;
    o->boxes = block(cap * 16u);
    o->scores = block(cap * 4u);
    o->anchors = block(cap * 4u);
    o->keypoints = nkp > 0 ? block(cap * 4u * (size_t)nkp) : NULL;
    o->labels = labels ? block(cap * 4u) : NULL;
}

static void outputs_free(outputs_t *o)
{
    free(o->boxes);
    free(o->scores);
    free(o->anchors);
    free(o->keypoints);
    free(o->labels);
}

static up_output_t view(const outputs_t *o)
{
    up_output_t out;
    memset(&out, 0, sizeof(out));
    out.boxes = o->boxes;
    out.scores = o->scores;
    out.anchors = o->anchors;
    out.keypoints = o->keypoints;
    out.labels = o->labels;
    out.capacity = o->capacity;
    out.count = -1;
    return out;
}

/* The invariants of a successful run (see the top of the file). */
static void check_outputs(const up_config_t *c, const void *scores, int32_t sstride, const up_output_t *out)
{
    int32_t classes = c->num_labels > 0 ? c->num_labels : 1;
    int32_t nkp = 2 * c->num_keypoints;
    int32_t lo = c->clip ? 0 : -UP_BOX_LIMIT;
    int32_t hi = c->clip ? UP_ONE_BOX : UP_BOX_LIMIT;
    if (out->count < 0 || (int64_t)out->count > (int64_t)c->max_detections * classes) {
        abort();
    }
    int32_t start = 0;
    while (start < out->count) {
        int32_t col = c->num_labels > 0 ? out->labels[start] : c->class_index;
        if (col < c->class_index || col >= c->class_index + classes ||
            (start > 0 && c->num_labels > 0 && col <= out->labels[start - 1])) {
            abort(); /* labels come class by class, ascending */
        }
        int32_t bound = c->num_labels > 0 ? c->label_bounds[col - c->class_index] : c->score_bound;
        int32_t end = start + 1;
        while (end < out->count && c->num_labels > 0 && out->labels[end] == col) {
            end++;
        }
        if (end - start > c->max_detections) {
            abort();
        }
        for (int32_t i = start; i < end; i++) {
            int32_t a = out->anchors[i];
            if (a < 0 || a >= c->num_anchors) {
                abort();
            }
            for (int32_t j = start; j < i; j++) {
                if (out->anchors[j] == a) {
                    abort(); /* an anchor is output at most once per class */
                }
            }
            for (int32_t k = 0; k < 4; k++) {
                if (out->boxes[4 * i + k] < lo || out->boxes[4 * i + k] > hi) {
                    abort();
                }
            }
            for (int32_t k = 0; k < nkp; k++) {
                int32_t v = out->keypoints[(size_t)i * (size_t)nkp + (size_t)k];
                if (v < lo || v > hi) {
                    abort();
                }
            }
            int32_t key = key_of(c, scores, sstride, a, col);
            if (key <= bound) {
                abort(); /* only candidates that pass the score test */
            }
            int32_t own = score_of(c, key);
            int32_t s = out->scores[i];
            int32_t prev_key = i > start ? key_of(c, scores, sstride, out->anchors[i - 1], col) : 0;
            int before = i == start || prev_key > key || (prev_key == key && out->anchors[i - 1] < a);
            switch (c->nms_kind) {
            case UP_NMS_HARD:
            case UP_NMS_WEIGHTED:
                if (!before || s != own) {
                    abort();
                }
                break;
            case UP_NMS_BLEND:
                /* exp weights are >= 1: always a mean of the cluster's clamped scores */
                if (!before || s < 0 || s > UP_ONE_SCORE ||
                    (c->input_kind == UP_INPUT_I32 && c->score_kind == UP_SCORE_PROB &&
                     s > clamp32(own, 0, UP_ONE_SCORE))) {
                    abort();
                }
                break;
            default: /* soft: decayed scores never grow */
                if (s <= c->soft_min_q30 || s > own ||
                    (i > start && !(out->scores[i - 1] > s ||
                                    (out->scores[i - 1] == s && out->anchors[i - 1] < a)))) {
                    abort();
                }
                break;
            }
        }
        start = end;
    }
}

static int same_outputs(const up_output_t *x, const up_output_t *y, int32_t nkp, int labels)
{
    size_t k = (size_t)x->count;
    return x->count == y->count && !memcmp(x->boxes, y->boxes, 16u * k) && !memcmp(x->scores, y->scores, 4u * k) &&
           !memcmp(x->anchors, y->anchors, 4u * k) &&
           (nkp == 0 || !memcmp(x->keypoints, y->keypoints, 4u * k * (size_t)nkp)) &&
           (!labels || !memcmp(x->labels, y->labels, 4u * k));
}

typedef struct {
    int32_t score_stride, box_stride, keypoint_stride;
    int32_t capacity;
    size_t scratch_bytes;
    int separate_keypoints; /* up_run_keypoints instead of keypoints in the box rows */
    int drop_keypoints;     /* no keypoint output buffer although the config has keypoints */
    int drop_labels;        /* no label output buffer although the config has labels */
} run_args_t;

static void run_checked(const up_config_t *cfg, const uint8_t *rest, size_t rest_n, uint32_t *s, const run_args_t *ra)
{
    size_t esize = cfg->input_kind == UP_INPUT_S8 ? 1u : 4u;
    size_t n = (size_t)cfg->num_anchors;
    int32_t nkp = 2 * cfg->num_keypoints;
    int separate = ra->separate_keypoints && nkp > 0;
    /* Exactly the rows the core may read: (n - 1) strides plus one row. */
    size_t box_row = 4u + (size_t)(separate ? 0 : nkp);
    size_t score_elems = (n - 1u) * (size_t)(ra->score_stride > 0 ? ra->score_stride : 0) + (size_t)cfg->num_classes;
    size_t box_elems = (n - 1u) * (size_t)(ra->box_stride > 0 ? ra->box_stride : 0) + box_row;
    size_t kp_elems = separate ? (n - 1u) * (size_t)(ra->keypoint_stride > 0 ? ra->keypoint_stride : 0) + (size_t)nkp
                               : 0u;
    uint8_t *scores = tensor(score_elems * esize, rest, rest_n, s);
    uint8_t *boxes = tensor(box_elems * esize, rest, rest_n, s);
    uint8_t *kps = separate ? tensor(kp_elems * esize, rest, rest_n, s) : NULL;
    int32_t capacity = ra->capacity < 0 ? 0 : ra->capacity;
    outputs_t o;
    outputs_alloc(&o, capacity, ra->drop_keypoints ? 0 : nkp, cfg->num_labels > 0 && !ra->drop_labels);
    void *scratch = block(ra->scratch_bytes);
    up_output_t out = view(&o);
    int32_t status;
    if (separate) {
        status = up_run_keypoints(cfg, scores, ra->score_stride, boxes, ra->box_stride, kps, ra->keypoint_stride,
                                  scratch, ra->scratch_bytes, &out);
    } else {
        status = up_run(cfg, scores, ra->score_stride, boxes, ra->box_stride, scratch, ra->scratch_bytes, &out);
    }

    int32_t classes = cfg->num_labels > 0 ? cfg->num_labels : 1;
    int bad_cap = (int64_t)capacity < (int64_t)cfg->max_detections * classes;
    int bad_scratch = ra->scratch_bytes < up_scratch_size(cfg);
    int bad_stride = ra->score_stride < cfg->num_classes || ra->box_stride < (int32_t)box_row ||
                     (separate && ra->keypoint_stride < nkp);
    int bad_null = (nkp > 0 && ra->drop_keypoints) || (cfg->num_labels > 0 && ra->drop_labels);
    int bad_kind = cfg->input_kind == UP_INPUT_F32; /* float inputs are the host's up_run_f32 */
    if (!bad_cap && !bad_scratch && !bad_stride && !bad_null && !bad_kind) {
        if (status != UP_OK &&
            !(status == UP_ERR_RANGE &&
              range_possible(cfg, scores, ra->score_stride, boxes, ra->box_stride,
                             nkp == 0 ? NULL : separate ? (const void *)kps : (const void *)(boxes + 4u * esize),
                             separate ? ra->keypoint_stride : ra->box_stride))) {
            abort();
        }
    } else if (!((bad_cap && status == UP_ERR_OUTPUT) || (bad_scratch && status == UP_ERR_SCRATCH) ||
                 (bad_stride && status == UP_ERR_STRIDE) || (bad_null && status == UP_ERR_NULL) ||
                 (bad_kind && status == UP_ERR_CONFIG))) {
        abort(); /* a bad argument must come back as its own status */
    }
    if (status == UP_OK) {
        check_outputs(cfg, scores, ra->score_stride, &out);
        if (nkp > 0 && !separate) {
            /* The same keypoints in a tensor of their own: the same outputs. */
            int32_t *kt = block(n * (size_t)nkp * 4u);
            for (size_t a = 0; a < n; a++) {
                for (int32_t k = 0; k < nkp; k++) {
                    size_t at = a * (size_t)ra->box_stride + 4u + (size_t)k;
                    kt[a * (size_t)nkp + (size_t)k] =
                        esize == 1u ? (int32_t)((const int8_t *)boxes)[at] : ((const int32_t *)(void *)boxes)[at];
                }
            }
            void *kin = kt;
            if (esize == 1u) { /* int8 rows, packed */
                int8_t *k8 = block(n * (size_t)nkp);
                for (size_t i = 0; i < n * (size_t)nkp; i++) {
                    k8[i] = (int8_t)kt[i];
                }
                kin = k8;
            }
            outputs_t o2;
            outputs_alloc(&o2, capacity, nkp, cfg->num_labels > 0);
            void *scratch2 = block(ra->scratch_bytes);
            up_output_t out2 = view(&o2);
            int32_t status2 = up_run_keypoints(cfg, scores, ra->score_stride, boxes, ra->box_stride, kin, nkp,
                                               scratch2, ra->scratch_bytes, &out2);
            if (status2 != UP_OK || !same_outputs(&out, &out2, nkp, cfg->num_labels > 0)) {
                abort();
            }
            if (kin != kt) {
                free(kin);
            }
            free(kt);
            free(scratch2);
            outputs_free(&o2);
        }
    }
    free(scores);
    free(boxes);
    free(kps);
    free(scratch);
    outputs_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    up_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    uint32_t n = 1u + take(data, size, &pos, 2) % MAX_ANCHORS;
    uint32_t flags = take(data, size, &pos, 1);
    uint32_t kinds = take(data, size, &pos, 1);
    uint32_t seed = take(data, size, &pos, 4) | 1u;
    cfg.num_anchors = (int32_t)n;
    cfg.num_classes = 1 + (int32_t)(flags & 3u);             /* 1 is invalid with LOGIT2 */
    cfg.class_index = (int32_t)((flags >> 2) & 3u);          /* may exceed num_classes */
    cfg.input_kind = (uint8_t)((flags >> 4) & 3u);           /* S8, I32, F32 (host only), 3 invalid */
    cfg.clip = (flags >> 6) & 1u;
    int null_table = (flags >> 7) & 1u;                      /* one table pointer NULL */
    cfg.score_kind = (uint8_t)(kinds & 3u);                  /* 3 is invalid */
    cfg.box_kind = (uint8_t)((kinds >> 2) & 3u);             /* 3 is invalid */
    cfg.nms_kind = (uint8_t)((kinds >> 4) % 7u);             /* 0..4, 5 and 6 invalid */
    cfg.score_bound = (int32_t)take(data, size, &pos, 4);
    cfg.candidate_limit = (int32_t)(take(data, size, &pos, 2) % (n + 2u)); /* 0 and n+1 invalid */
    cfg.max_detections = (int32_t)(take(data, size, &pos, 2) % (n + 2u));
    cfg.iou_q16 = (int32_t)(take(data, size, &pos, 3) % ((1u << 16) + 3u)) - 1; /* -1 and 2^16 + 1 invalid */
    cfg.iou_eps_q40 = (int64_t)(take(data, size, &pos, 2) % 4096u) << 16;
    cfg.var_center_q30 = (int32_t)take(data, size, &pos, 4) % ((1 << 30) + 2);
    cfg.var_size_q30 = (int32_t)take(data, size, &pos, 4) % ((1 << 30) + 2);

    /* Version 0.2 fields: each sometimes 0 (the 0.1 behaviour), sometimes just out of range. */
    uint32_t ext = take(data, size, &pos, 1);
    uint32_t pad_x = take(data, size, &pos, 3), pad_y = take(data, size, &pos, 3);
    uint32_t clip_v = take(data, size, &pos, 4), soft_min = take(data, size, &pos, 4);
    uint32_t sigma = take(data, size, &pos, 4);
    uint32_t kp_sel = take(data, size, &pos, 1), label_sel = take(data, size, &pos, 1);
    uint32_t label_raw = take(data, size, &pos, 4);
    uint32_t iou_sel = take(data, size, &pos, 1), iou_raw = take(data, size, &pos, 4);
    if (iou_sel & 1u) { /* an exact threshold: num / 2^shift with its Q16 floor, or one field off */
        int32_t sh = (int32_t)(iou_sel >> 1) % 80;
        uint64_t num = sh < 32 ? (uint64_t)iou_raw % (((uint64_t)1 << sh) + 1u) : ((uint64_t)iou_raw << 21) | 1u;
        cfg.iou_num = (int64_t)num;
        cfg.iou_shift = sh;
        cfg.iou_q16 = sh <= 16 ? (int32_t)(num << (16 - sh)) : (int32_t)(num >> (sh - 16));
        if ((iou_sel >> 7) & 1u) { /* invalid: the floor off by one, or t above 1 */
            if (iou_raw & 1u) {
                cfg.iou_q16 = (int32_t)((uint32_t)cfg.iou_q16 + 1u); /* wraps at INT32_MAX: still invalid */
            } else {
                cfg.iou_num = ((int64_t)1 << (sh < 53 ? sh : 53)) + 1;
            }
        }
    }
    if (ext & 1u) {
        cfg.pad_x_q20 = (int32_t)(pad_x % ((1u << 20) + 3u)) - 1; /* -1 and 2^20 + 1 invalid */
        cfg.pad_y_q20 = (int32_t)(pad_y % ((1u << 20) + 3u)) - 1;
    }
    switch ((ext >> 1) & 3u) {
    case 1:
        cfg.logit_clip_q20 = (int32_t)(clip_v % (1u << 27));
        break;
    case 2:
        cfg.logit_clip_q20 = (int32_t)clip_v; /* may be negative: invalid */
        break;
    case 3:
        cfg.logit_clip_q20 = INT32_MAX;
        break;
    default:
        break;
    }
    cfg.soft_min_q30 = (ext >> 3) & 1u ? (int32_t)(soft_min % ((1u << 30) + 3u)) - 1 : 0;
    cfg.soft_inv_sigma_q16 = (ext >> 4) & 1u ? (int32_t)(sigma % (UP_MAX_INV_SIGMA_Q16 + 2u)) : 1 << 16;
    cfg.num_keypoints = kp_sel == 255u ? UP_MAX_KEYPOINTS + 1 : kp_sel == 254u ? -1
                        : kp_sel % 12u < 4u ? 0 : (int32_t)(kp_sel % 12u) - 3;
    label_sel %= 8u;
    cfg.num_labels = label_sel < 4u ? 0 : label_sel < 7u ? (int32_t)label_sel - 3 : (int32_t)label_raw;

    uint32_t strides = take(data, size, &pos, 1);
    uint32_t mode = take(data, size, &pos, 1);
    run_args_t ra;
    memset(&ra, 0, sizeof(ra));
    int32_t nkp = cfg.num_keypoints > 0 ? 2 * cfg.num_keypoints : 0;
    ra.separate_keypoints = mode & 1u;
    int32_t box_row = 4 + (ra.separate_keypoints ? 0 : nkp);
    ra.score_stride = cfg.num_classes + (int32_t)(strides & 3u) - 1; /* may be too small */
    ra.box_stride = box_row + (int32_t)((strides >> 2) & 3u) - 1;
    ra.keypoint_stride = nkp + (int32_t)((mode >> 1) & 3u) - 1;
    int32_t cap_delta = (int32_t)((strides >> 4) & 3u) - 1;          /* capacity - needed rows */
    int scratch_short = (strides >> 6) == 3u;                         /* scratch 4 bytes short */
    ra.drop_keypoints = ((mode >> 3) & 7u) == 7u;
    ra.drop_labels = ((mode >> 6) & 3u) == 3u;

    uint32_t s = seed;
    int s8 = cfg.input_kind == UP_INPUT_S8;
    int32_t *priors = table(&s, 4u * n, 0, 1 << 20);
    int32_t *score_lut = table(&s, cfg.score_kind == UP_SCORE_LOGIT2 ? 511u : 256u, 0, 1 << 30);
    int32_t *center_lut = table(&s, 256u, -(1 << 22), 1 << 22);
    int32_t *size_lut = table(&s, 256u, 0, 1 << 24);
    int32_t *box_lut = table(&s, 256u, -(1 << 21), 1 << 21);
    int32_t *keypoint_lut = table(&s, 256u, -(1 << 22), 1 << 22);
    /* Bounds in the keys' own domain; a huge num_labels must be refused before any is read. */
    size_t nlab = cfg.num_labels > 0 ? (size_t)(cfg.num_labels < MAX_LABEL_TABLE ? cfg.num_labels : MAX_LABEL_TABLE)
                                     : 1u;
    int32_t *label_bounds = s8 ? table(&s, nlab, -260, 130) : table(&s, nlab, -(1 << 30), 1 << 30);
    cfg.priors = priors;
    cfg.score_lut = score_lut;
    cfg.center_lut = center_lut;
    cfg.size_lut = size_lut;
    cfg.box_lut = box_lut;
    cfg.keypoint_lut = keypoint_lut;
    cfg.label_bounds = label_bounds;
    if (null_table) {
        switch (rng_next(&s) % 7u) {
        case 0:
            cfg.priors = NULL;
            break;
        case 1:
            cfg.score_lut = NULL;
            break;
        case 2:
            cfg.center_lut = NULL;
            break;
        case 3:
            cfg.size_lut = NULL;
            break;
        case 4:
            cfg.box_lut = NULL;
            break;
        case 5:
            cfg.keypoint_lut = NULL;
            break;
        default:
            cfg.label_bounds = NULL;
            break;
        }
    }

    int32_t status = up_check_config(&cfg);
    size_t need = up_scratch_size(&cfg);
    if ((status == UP_OK) != (need > 0)) {
        abort(); /* scratch size is 0 exactly for invalid configs */
    }
    if (status == UP_OK && !documented(&cfg)) {
        abort(); /* accepted a config outside the documented ranges */
    }
    if (status == UP_OK) {
        int32_t classes = cfg.num_labels > 0 ? cfg.num_labels : 1;
        ra.capacity = cfg.max_detections * classes + cap_delta;
        ra.scratch_bytes = scratch_short ? need - 4u : need;
        run_checked(&cfg, data + pos, pos < size ? size - pos : 0, &s, &ra);
    }
    free(priors);
    free(score_lut);
    free(center_lut);
    free(size_lut);
    free(box_lut);
    free(keypoint_lut);
    free(label_bounds);
    return 0;
}
