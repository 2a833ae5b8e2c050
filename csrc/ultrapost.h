/*
 * ultrapost: fixed-point post-processing for tiny face detectors.
 *
 * The one public header of the portable core. Everything declared here builds
 * for an MCU with only <stdint.h>, <stddef.h> and <stdbool.h>: no float, no
 * heap, no recursion, no mutable globals. Floats become fixed point on the
 * host, once, when a config is prepared (see src/ultrapost/models.py).
 *
 * Pipeline (up_run):
 *   score test in the input's integer domain (key > score_bound)
 *   -> the candidate_limit best candidates (key descending, anchor ascending)
 *   -> decode of those candidates only
 *   -> greedy NMS, IoU tested without division
 *   -> at most max_detections outputs in the order they were kept.
 *
 * Q formats (value = integer / 2^n):
 *   priors, boxes, deltas, logits .... Q20 int32 (1.0 = 1 << 20)
 *   output boxes .................... Q20 int32 corners x1, y1, x2, y2,
 *                                     saturated to [-4, 4] (or [0, 1] if clip)
 *   probabilities, output scores .... Q30 int32 (1.0 = 1 << 30)
 *   variances ....................... Q30 int32, in (0, 1]
 *   IoU threshold ................... Q16 int32, in [0, 1 << 16)
 *   IoU epsilon ..................... Q40 int64 area units
 *
 * Rounding: every right shift rounds half up ("add half, then arithmetic
 * shift"). Signed right shifts are assumed arithmetic (checked at compile time).
 *
 * Determinism: every ordering is score key descending, then anchor index
 * ascending. Equal keys never depend on the sort algorithm.
 */
#ifndef ULTRAPOST_H
#define ULTRAPOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UP_VERSION_MAJOR 0
#define UP_VERSION_MINOR 1

/* Status codes: 0 ok, negative errors. */
#define UP_OK 0
#define UP_ERR_NULL (-1)          /* a required pointer is NULL */
#define UP_ERR_CONFIG (-2)        /* the config is inconsistent */
#define UP_ERR_SCRATCH (-3)       /* scratch buffer too small or misaligned */
#define UP_ERR_OUTPUT (-4)        /* output capacity below max_detections */
#define UP_ERR_STRIDE (-5)        /* a row stride is too small */
#define UP_ERR_NONFINITE (-6)     /* NaN or Inf in a float input (host path) */
#define UP_ERR_NUM_ANCHORS (-7)   /* zero anchors or too many */

#define UP_Q_BOX 20
#define UP_Q_SCORE 30
#define UP_Q_VAR 30
#define UP_Q_IOU 16
#define UP_ONE_BOX ((int32_t)1 << UP_Q_BOX)
#define UP_ONE_SCORE ((int32_t)1 << UP_Q_SCORE)
#define UP_BOX_LIMIT ((int32_t)4 << UP_Q_BOX) /* box corners saturate to +-4.0 */
#define UP_MAX_ANCHORS (1 << 22)

/* Element type of the input tensors. */
typedef enum {
    UP_INPUT_S8 = 0,  /* int8 with a per-tensor scale and zero point: tables in the config */
    UP_INPUT_I32 = 1, /* int32 fixed point: probabilities Q30, logits and boxes Q20 */
    UP_INPUT_F32 = 2  /* float32, host only: converted at the boundary (up_host_float.c) */
} up_input_kind_t;

/* What the score columns hold. */
typedef enum {
    UP_SCORE_PROB = 0,  /* probabilities; key = value of column class_index */
    UP_SCORE_LOGIT2 = 1 /* two-class logits; key = l[class_index] - l[1 - class_index] */
} up_score_kind_t;

/* What the box columns hold. */
typedef enum {
    UP_BOX_DELTAS = 0, /* dx, dy, dw, dh against priors (variance decode with exp) */
    UP_BOX_CORNERS = 1 /* already decoded x1, y1, x2, y2, normalized */
} up_box_kind_t;

/* NMS variant. */
typedef enum {
    UP_NMS_HARD = 0 /* suppress when IoU > iou_threshold */
} up_nms_kind_t;

/*
 * A prepared config: const data made on the host (or in a generated header)
 * and checked once with up_check_config(). up_run() trusts a checked config.
 *
 * Score keys and bounds, by input kind:
 *   S8 PROB ..... key = q (int8)              score = score_lut[q + 128] (Q30)
 *   S8 LOGIT2 ... key = q1 - q0 in [-255,255] score = score_lut[key + 255] (Q30)
 *   I32 PROB .... key = p (Q30)               score = key
 *   I32 LOGIT2 .. key = l1 - l0 (Q20)         score = up_sigmoid_q30(key)
 * A candidate passes when key > score_bound: the host turns the float
 * threshold into this exact integer bound (">= t" is "> bound - 1").
 *
 * Box tables, S8 only, indexed by q + 128:
 *   DELTAS:  center_lut = var_center * s * (q - zp)        Q20
 *            size_lut   = exp(var_size * s * (q - zp))     Q20, saturated
 *   CORNERS: box_lut    = s * (q - zp)                     Q20
 */
typedef struct {
    int32_t num_anchors;   /* N: rows of the score and box tensors */
    int32_t num_classes;   /* score columns read per row (>= 2 for the kinds above) */
    int32_t class_index;   /* the face column */
    uint8_t input_kind;    /* up_input_kind_t */
    uint8_t score_kind;    /* up_score_kind_t */
    uint8_t box_kind;      /* up_box_kind_t */
    uint8_t nms_kind;      /* up_nms_kind_t */
    bool clip;             /* clip decoded corners to [0, 1] (C++ ports) */
    int32_t score_bound;   /* pass when key > score_bound */
    int32_t candidate_limit; /* best candidates kept before NMS, 1..N */
    int32_t max_detections;  /* outputs at most, 1..candidate_limit */
    int32_t iou_q16;       /* suppress when IoU > iou_q16 / 2^16 */
    int64_t iou_eps_q40;   /* added to the union (Python predict(): 1e-5) */
    int32_t var_center_q30; /* I32 deltas: center variance (0.1) */
    int32_t var_size_q30;   /* I32 deltas: size variance (0.2) */
    const int32_t *priors;  /* [N][4] cx, cy, w, h in Q20; DELTAS only */
    const int32_t *score_lut;  /* S8: 256 (PROB) or 511 (LOGIT2) entries, Q30 */
    const int32_t *center_lut; /* S8 DELTAS: 256 entries, Q20 */
    const int32_t *size_lut;   /* S8 DELTAS: 256 entries, Q20 */
    const int32_t *box_lut;    /* S8 CORNERS: 256 entries, Q20 */
} up_config_t;

/* Where results go: arrays of at least max_detections rows, owned by the caller. */
typedef struct {
    int32_t *boxes;   /* [capacity][4] Q20 x1, y1, x2, y2 */
    int32_t *scores;  /* [capacity] Q30 */
    int32_t *anchors; /* [capacity] source anchor index */
    int32_t capacity;
    int32_t count;    /* written by up_run */
} up_output_t;

/* Checks a config once; returns UP_OK or UP_ERR_CONFIG / UP_ERR_NULL / UP_ERR_NUM_ANCHORS. */
int32_t up_check_config(const up_config_t *cfg);

/* Bytes of scratch up_run needs for this config (0 if the config is invalid). */
size_t up_scratch_size(const up_config_t *cfg);

/*
 * Runs the pipeline on one image. scores: rows of num_classes elements,
 * score_stride elements apart; boxes: rows of 4 elements, box_stride apart.
 * Elements are int8_t (S8) or int32_t (I32), as the config says. The NXP
 * ultraslim [172][6] tensor is scores = t, boxes = t + 2, both strides 6.
 * scratch: up_scratch_size() bytes, 4-byte aligned.
 */
int32_t up_run(const up_config_t *cfg, const void *scores, int32_t score_stride,
               const void *boxes, int32_t box_stride, void *scratch, size_t scratch_size,
               up_output_t *out);

/* Fixed-point helpers, exposed so the golden model and the tests can check them. */
int32_t up_exp_q20(int32_t x_q20);      /* exp(x), Q20 in and out, saturated to INT32_MAX */
int32_t up_sigmoid_q30(int32_t x_q20);  /* 1 / (1 + exp(-x)), Q20 in, Q30 out */

#ifdef __cplusplus
}
#endif
#endif /* ULTRAPOST_H */
