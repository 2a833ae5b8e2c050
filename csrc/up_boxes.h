/*
 * Generic box-set NMS (up_boxes.c): any detector's boxes, not anchors.
 *
 * Representation (made on the host, exactly, once per call):
 *   boxes ..... int32 corners x1, y1, x2, y2 on one grid of the caller's choice
 *               (the host scales by a power of two), |v| <= UP_BOXES_COORD_MAX;
 *               x2 < x1 (or y2 < y1) is a box of area 0.
 *   keys ...... int64 score keys, any order-preserving map of the scores (the
 *               host uses the float64 bits, so ordering and the score test are
 *               those of the given values, exactly).
 *   values .... int32 scores on a grid of their own (soft, blend and weighted
 *               kinds only), |v| <= 2^30.
 *   classes ... int32 class of each box, or NULL: boxes of different classes
 *               never suppress each other.
 *   thresholds  t = num / 2^shift exactly (the float64 t is such a fraction);
 *               suppression when IoU > t, decided without rounding:
 *               inter > floor(num * union / 2^shift) in 128-bit arithmetic.
 *
 * Order: key descending, then index ascending (soft kinds: decayed value
 * descending, then index ascending). Outputs in keep order.
 */
#ifndef UP_BOXES_H
#define UP_BOXES_H

#include "ultrapost.h"

#define UP_BOXES_COORD_MAX ((int32_t)1 << 30)  /* |corner| at most 2^30 on the grid */
#define UP_BOXES_VALUE_MAX ((int32_t)1 << 30)  /* |value| at most 2^30 */
#define UP_BOXES_MAX ((int32_t)1 << 26)        /* boxes per call at most */
#define UP_BOXES_MAX_MERGE ((int32_t)1 << 16)  /* candidates of the blend / weighted kinds at most */
#define UP_BOXES_MAX_STEPS (1 << 16)           /* thresholds in an eta schedule at most */

/* flags */
#define UP_BOXES_ZERO_AREA_OVERLAP 1u /* two boxes of area 0 overlap fully (IoU 1: OpenCV's jaccardDistance) */
#define UP_BOXES_LINEAR_SCAN 2u       /* hard NMS without the spatial grid (smaller scratch, same decisions) */

typedef struct {
    int32_t count;            /* N boxes, 0..UP_BOXES_MAX */
    uint8_t nms_kind;         /* up_nms_kind_t */
    uint8_t flags;            /* UP_BOXES_* */
    int32_t candidate_limit;  /* best candidates entering NMS (OpenCV's top_k), 1..N; 0: all */
    int32_t max_output;       /* outputs at most, >= 0 */
    int64_t key_bound;        /* a box is a candidate when key > key_bound (INT64_MIN: every box) */
    int32_t iou_steps;        /* thresholds, 1..UP_BOXES_MAX_STEPS: after k kept boxes, step min(k, steps - 1) */
    const uint64_t *iou_num;  /* [steps] numerators, <= 2^53 and <= 2^shift (t in [0, 1]) */
    const int32_t *iou_shift; /* [steps] 0..1100 */
    int32_t value_bound;      /* soft kinds: a box stays while its decayed value > value_bound */
    int32_t value_q;          /* values are v / 2^value_q, -1100..62 (blend weights exp(v - top) need it) */
    int32_t soft_inv_sigma_q16; /* soft Gaussian: 1 / sigma, 1..UP_MAX_INV_SIGMA_Q16 */
} up_boxes_config_t;

typedef struct {
    const int32_t *boxes;   /* [N][4] */
    const int64_t *keys;    /* [N] */
    const int32_t *values;  /* [N] soft, blend, weighted (weighted: >= 0); NULL for hard */
    const int32_t *classes; /* [N] or NULL */
} up_boxes_input_t;

typedef struct {
    int32_t *indices; /* [capacity] box index of each output, keep order */
    int32_t *values;  /* [capacity] output values (soft: decayed, blend: mean, weighted: the top's); NULL for hard */
    int32_t *boxes;   /* [capacity][4] merged boxes (blend, weighted); else may be NULL */
    int32_t capacity; /* >= min(max_output, N) */
    int32_t count;    /* written */
} up_boxes_output_t;

/* Bytes of scratch up_boxes_nms needs (0 when the config is invalid). */
size_t up_boxes_scratch_size(const up_boxes_config_t *cfg);

/* NMS over a box set. Returns UP_OK, or UP_ERR_NULL / UP_ERR_CONFIG / UP_ERR_SCRATCH / UP_ERR_OUTPUT /
 * UP_ERR_NUM_ANCHORS (count) / UP_ERR_RANGE (a box corner or value outside its range). */
int32_t up_boxes_nms(const up_boxes_config_t *cfg, const up_boxes_input_t *in, void *scratch,
                     size_t scratch_size, up_boxes_output_t *out);

#ifndef UP_ERR_RANGE
#define UP_ERR_RANGE (-8) /* a value outside the range its representation allows */
#endif

#endif /* UP_BOXES_H */
