/*
 * ultrapost: fixed-point post-processing for tiny face detectors.
 *
 * The one public header of the portable core. Everything declared here builds
 * for an MCU with only <stdint.h>, <stddef.h> and <stdbool.h>: no float, no
 * heap, no recursion, no mutable globals. Floats become fixed point on the
 * host, once, when a config is prepared (see src/ultrapost/models.py).
 *
 * Pipeline (up_run), once per class (one class unless num_labels > 0):
 *   score test in the input's integer domain (key > score_bound)
 *   -> the candidate_limit best candidates (key descending, anchor ascending)
 *   -> decode of those candidates only (boxes; keypoints of outputs only)
 *   -> NMS (nms_kind: hard, blending, weighted or soft), IoU tested without
 *      division where only a comparison is needed
 *   -> at most max_detections outputs per class, in the order they were kept.
 *
 * Families, all as data in the config:
 *   Ultraface ......... PROB or LOGIT2 scores, DELTAS (variance + exp) or CORNERS
 *   RetinaFace heads .. PROB scores, DELTAS boxes, keypoints (num_keypoints = 5)
 *   BlazeFace ......... LOGIT1 scores (clipped logit, sigmoid), LINEAR boxes,
 *                       keypoints (num_keypoints = 6) in the same rows as boxes
 *   multi-class ....... num_labels classes, per-class bounds, a label per output
 *
 * Compile-time switches (define to leave a feature out of a firmware build;
 * configs that need it are then refused by up_check_config with UP_ERR_CONFIG):
 *   UP_NO_SOFT_NMS .... soft-NMS, linear and Gaussian
 *   UP_NO_MERGE_NMS ... blending and weighted NMS
 *   UP_NO_KEYPOINTS ... keypoint / landmark decode
 *   UP_NO_LABELS ...... multi-class runs (num_labels > 0)
 *   UP_NO_BOXES ....... box-set NMS (up_boxes_nms: any detector's boxes); its
 *                       entry points then refuse every config (UP_ERR_CONFIG)
 * A minimal build (Ultraface + hard NMS) defines all five.
 *
 * Q formats (value = integer / 2^n):
 *   priors, boxes, deltas, logits .... Q20 int32 (1.0 = 1 << 20)
 *   output boxes .................... Q20 int32 corners x1, y1, x2, y2 in
 *                                     [-4, 4] (or clipped to [0, 1]); a
 *                                     candidate's corner beyond +-4 without
 *                                     clip, or a saturated exp its clipped
 *                                     box depends on, is UP_ERR_RANGE
 *   probabilities, output scores .... Q30 int32 (1.0 = 1 << 30)
 *   variances ....................... Q30 int32, in (0, 1]
 *   IoU threshold ................... exact: iou_num / 2^iou_shift (the float64 t),
 *                                     with iou_q16 = floor(t * 2^16) in [0, 1 << 16]
 *   IoU epsilon ..................... Q40 int64 area units
 *   IoU area pads (+1 pixel) ........ Q20 int32, in [0, 1] (1 pixel = 1 / W)
 *   keypoints ....................... Q20 int32 x, y, in range like boxes
 *   merge weights ................... Q16 (score, or exp(score) for blending)
 *   soft-NMS IoU value, 1 / sigma ... Q16
 *
 * Rounding: every right shift rounds half up ("add half, then arithmetic
 * shift"). Signed right shifts are assumed arithmetic (checked at compile time).
 * The few divisions (soft-NMS IoU values, merged means) are shift-and-subtract
 * on magnitudes, rounded half away from zero; no 64-bit division helper.
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
#define UP_VERSION_MINOR 2

/* Status codes: 0 ok, negative errors. */
#define UP_OK 0
#define UP_ERR_NULL (-1)          /* a required pointer is NULL */
#define UP_ERR_CONFIG (-2)        /* the config is inconsistent */
#define UP_ERR_SCRATCH (-3)       /* scratch buffer too small or misaligned */
#define UP_ERR_OUTPUT (-4)        /* output capacity below max_detections */
#define UP_ERR_STRIDE (-5)        /* a row stride is too small */
#define UP_ERR_NONFINITE (-6)     /* NaN or Inf in a float input (host path) */
#define UP_ERR_NUM_ANCHORS (-7)   /* zero anchors or too many */
#define UP_ERR_RANGE (-8)         /* a value outside the range its representation allows: a candidate's
                                     box corner or keypoint beyond +-4.0 (no clip), a saturated box size,
                                     a float32 probability above 1 passing the score test */
#define UP_ERR_FRAME (-9)         /* pre-processing: the frame's size differs from the config's */

#define UP_Q_BOX 20
#define UP_Q_SCORE 30
#define UP_Q_VAR 30
#define UP_Q_IOU 16
#define UP_ONE_BOX ((int32_t)1 << UP_Q_BOX)
#define UP_ONE_SCORE ((int32_t)1 << UP_Q_SCORE)
#define UP_BOX_LIMIT ((int32_t)4 << UP_Q_BOX) /* box corners beyond +-4.0: UP_ERR_RANGE */
#define UP_MAX_ANCHORS (1 << 22)
#define UP_MAX_KEYPOINTS 8                 /* keypoints per detection at most */
#define UP_MAX_MERGE_CANDIDATES (1 << 15)  /* candidate_limit cap of the merging NMS kinds */
#define UP_MAX_INV_SIGMA_Q16 (1 << 24)     /* Gaussian soft-NMS: sigma >= 1/256 */
#define UP_MAX_IOU_SHIFT 1100              /* a float64 threshold in [0, 1] is iou_num / 2^shift, shift <= 1074 */

/* Element type of the input tensors. */
typedef enum {
    UP_INPUT_S8 = 0,  /* int8 with a per-tensor scale and zero point: tables in the config */
    UP_INPUT_I32 = 1, /* int32 fixed point: probabilities Q30, logits and boxes Q20 */
    UP_INPUT_F32 = 2  /* float32: not read by the core (up_run refuses it); a host library converts such
                         tensors to I32 values at its boundary and runs the core's stages on those */
} up_input_kind_t;

/* What the score columns hold. */
typedef enum {
    UP_SCORE_PROB = 0,  /* probabilities; key = value of column class_index */
    UP_SCORE_LOGIT2 = 1, /* two-class logits; key = l[class_index] - l[1 - class_index] */
    UP_SCORE_LOGIT1 = 2  /* one logit per class, sigmoid (BlazeFace); key = l[class_index],
                            clamped to +-logit_clip_q20 when that is > 0 (MediaPipe: 100) */
} up_score_kind_t;

/* What the box columns hold. */
typedef enum {
    UP_BOX_DELTAS = 0, /* dx, dy, dw, dh against priors (variance decode with exp) */
    UP_BOX_CORNERS = 1, /* already decoded x1, y1, x2, y2, normalized */
    UP_BOX_LINEAR = 2   /* dx, dy, w, h scaled linearly (BlazeFace): cx = pcx + dx * var_center * pw,
                           w = dw * var_size * pw; var_* = 1 / input size (x_scale of MediaPipe) */
} up_box_kind_t;

/*
 * NMS variant. Every kind visits candidates best first (key descending, anchor
 * ascending) and uses the same IoU (areas with the pads, + iou_eps) and the
 * same exact test IoU > t: inter * 2^iou_shift > iou_num * union, in integers
 * (a Q16 bracket settles almost every pair, 128-bit products the rest).
 *   HARD ........... keep unless IoU > iou_threshold with a kept box.
 *   BLEND .......... (ncnn / MNN C++) the top remaining candidate and every
 *                    remaining one with IoU > t against it form a cluster; the
 *                    output box, keypoints AND score are means weighted by
 *                    exp(score). Weights Q16 = exp_q20(score >> 10) >> 4.
 *   WEIGHTED ....... (MediaPipe) the same clusters; box and keypoints weighted
 *                    by score (Q16 = round(score / 2^14)), score = the top's.
 *                    A cluster whose weights sum to 0 outputs the top as is.
 *   SOFT_LINEAR .... (Bodla et al.) repeatedly output the best remaining score,
 *                    then decay every remaining score with IoU > t by
 *                    (1 - IoU); stop when the best score <= soft_min_q30.
 *   SOFT_GAUSSIAN .. as SOFT_LINEAR, decay by exp(-IoU^2 / sigma) for every
 *                    remaining box (soft_inv_sigma_q16 = 1 / sigma).
 * Soft-NMS IoU value: round(inter * 2^16 / union) (Q16); decayed scores are
 * rounded half up and ties broken by anchor index ascending.
 * Merged means: round(sum(w * v) / sum(w)) half away from zero; the output
 * anchor is the top's. The cluster always holds its top, even a zero-area one.
 * Merging reads scores clamped to [0, 1] (an I32 input may hold any int32).
 */
typedef enum {
    UP_NMS_HARD = 0,
    UP_NMS_BLEND = 1,
    UP_NMS_WEIGHTED = 2,
    UP_NMS_SOFT_LINEAR = 3,
    UP_NMS_SOFT_GAUSSIAN = 4
} up_nms_kind_t;

/*
 * A prepared config: const data made on the host (or in a generated header)
 * and checked once with up_check_config(). up_run() trusts a checked config.
 *
 * Score keys and bounds, by input kind:
 *   S8 PROB ..... key = q (int8)              score = score_lut[q + 128] (Q30)
 *   S8 LOGIT1 ... key = q (int8)              score = score_lut[q + 128] (Q30)
 *   S8 LOGIT2 ... key = q1 - q0 in [-255,255] score = score_lut[key + 255] (Q30)
 *   I32 PROB .... key = p (Q30)               score = key
 *   I32 LOGIT1 .. key = clamp(l) (Q20)        score = up_sigmoid_q30(key)
 *   I32 LOGIT2 .. key = l1 - l0 (Q20)         score = up_sigmoid_q30(key)
 * A candidate passes when key > score_bound: the host turns the float
 * threshold into this exact integer bound (">= t" is "> bound - 1").
 * F32 PROB (host path): score_bound (and label_bounds) is the order-preserving
 * key of the largest float32 that fails the test (bits for x >= 0, minus the
 * magnitude's bits for x < 0), so the test is exact on the given float; the
 * ordering key is round(p * 2^30), and a passing p above 1 is UP_ERR_RANGE.
 * F32 LOGIT1 (host path): the same kind of key bound, for the logit (the
 * largest float32 x failing sigmoid(clamp(x)) > t); ordering key: the Q20
 * logit, clamped. F32 LOGIT2 (host path): score_lut holds the words of an
 * exact test of the real difference x1 - x0 (the host library's header);
 * score_bound stays the Q20 bound; ordering key: l1 - l0 in Q20.
 *
 * Box tables, S8 only, indexed by q + 128:
 *   DELTAS:  center_lut = var_center * s * (q - zp)        Q20
 *            size_lut   = exp(var_size * s * (q - zp))     Q20, saturated
 *   LINEAR:  center_lut = var_center * s * (q - zp)        Q20
 *            size_lut   = var_size * s * (q - zp)          Q20
 *   CORNERS: box_lut    = s * (q - zp)                     Q20
 *   keypoints: keypoint_lut = var_center * s_k * (q - zp_k) Q20
 *
 * Keypoints (num_keypoints = P > 0, DELTAS or LINEAR boxes): rows of 2P values
 * (x0, y0, x1, y1, ...), each decoded as p_xy + c * p_wh with c as the box
 * center (RetinaFace: pre * 0.1 * p_wh; BlazeFace: r / 128 * p_wh). up_run
 * reads them from the box rows after the 4 box values; up_run_keypoints from
 * a tensor of their own.
 *
 * Multi-class (num_labels = L > 0): classes class_index .. class_index + L - 1
 * are each selected with their own bound label_bounds[l] (score_bound is then
 * unused) and suppressed separately; outputs come class by class, at most
 * max_detections each, with the class column in out->labels.
 *
 * Every field added after box_lut defaults to 0 (or NULL), meaning the
 * version 0.1 behaviour.
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
    int32_t iou_q16;       /* floor(t * 2^16), in [0, 2^16]: the cheap bracket of the IoU test */
    int64_t iou_eps_q40;   /* added to the union (Python predict(): 1e-5) */
    int32_t var_center_q30; /* I32 deltas: center variance (0.1) */
    int32_t var_size_q30;   /* I32 deltas: size variance (0.2) */
    const int32_t *priors;  /* [N][4] cx, cy, w, h in Q20, w and h >= 0; DELTAS only */
    const int32_t *score_lut;  /* S8: 256 (PROB) or 511 (LOGIT2) entries, Q30 */
    const int32_t *center_lut; /* S8 DELTAS: 256 entries, Q20 */
    const int32_t *size_lut;   /* S8 DELTAS: 256 entries, Q20 */
    const int32_t *box_lut;    /* S8 CORNERS: 256 entries, Q20 */
    int32_t pad_x_q20;         /* added to every width in IoU: 1 / W for "+1 pixel" areas, else 0 */
    int32_t pad_y_q20;         /* added to every height in IoU: 1 / H, else 0 */
    int32_t logit_clip_q20;    /* LOGIT1: clamp logits to +-this (0: no clamp) */
    int32_t soft_min_q30;      /* soft-NMS: stop when the best decayed score <= this */
    int32_t soft_inv_sigma_q16; /* SOFT_GAUSSIAN: 1 / sigma, in (0, UP_MAX_INV_SIGMA_Q16] */
    int32_t num_keypoints;     /* P keypoints per anchor, 0..UP_MAX_KEYPOINTS */
    int32_t num_labels;        /* L classes with labels (0: one class, no labels) */
    const int32_t *keypoint_lut; /* S8 keypoints: 256 entries, Q20 */
    const int32_t *label_bounds; /* [L] score bounds per class when L > 0 */
    /* The IoU threshold t, exactly: suppress when IoU > iou_num / 2^iou_shift (iou_num <= 2^shift, 2^53;
     * iou_shift <= UP_MAX_IOU_SHIFT; iou_q16 = floor(t * 2^16)). Both 0: t = iou_q16 / 2^16 (version 0.2). */
    int64_t iou_num;
    int32_t iou_shift;
} up_config_t;

/* Where results go: arrays of at least max_detections rows (times num_labels
 * when that is > 0), owned by the caller. */
typedef struct {
    int32_t *boxes;   /* [capacity][4] Q20 x1, y1, x2, y2 */
    int32_t *scores;  /* [capacity] Q30 */
    int32_t *anchors; /* [capacity] source anchor index */
    int32_t capacity;
    int32_t count;    /* written by up_run */
    int32_t *keypoints; /* [capacity][2P] Q20; read only when the config has keypoints (else may be unset) */
    int32_t *labels;    /* [capacity] class column; read only when num_labels > 0 (else may be unset) */
} up_output_t;

/* Checks a config once; returns UP_OK or UP_ERR_CONFIG / UP_ERR_NULL / UP_ERR_NUM_ANCHORS. */
int32_t up_check_config(const up_config_t *cfg);

/* Bytes of scratch up_run needs for this config (0 if the config is invalid):
 * per candidate, 4 (hard NMS), 20 (blending, weighted: index + box) or 24
 * (soft-NMS: index + box + decayed score). */
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

/* As up_run, with the keypoints in a tensor of their own: rows of 2P elements
 * (same element type), keypoint_stride elements apart. */
int32_t up_run_keypoints(const up_config_t *cfg, const void *scores, int32_t score_stride,
                         const void *boxes, int32_t box_stride, const void *keypoints,
                         int32_t keypoint_stride, void *scratch, size_t scratch_size,
                         up_output_t *out);

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

/* Fixed-point helpers, exposed so the golden model and the tests can check them. */
int32_t up_exp_q20(int32_t x_q20);      /* exp(x), Q20 in and out, saturated to INT32_MAX */
int32_t up_sigmoid_q30(int32_t x_q20);  /* 1 / (1 + exp(-x)), Q20 in, Q30 out */

/*
 * YuNet (OpenCV's FaceDetectorYN; libfacedetection / opencv_zoo): anchor-free
 * points on strides 8, 16 and 32, one per feature-map cell, with its own
 * tensors per stride: cls and obj probabilities [N_s][1], bbox [N_s][4] and
 * kps [N_s][10], N_s = (pad_w / s) * (pad_h / s), row-major.
 *
 * Pipeline (up_yunet_run), OpenCV's decisions exactly (REFERENCE.md section 7):
 *   score = sqrtf(clamp(cls, 0, 1) * clamp(obj, 0, 1)) as IEEE-754 float32,
 *   computed in integers (the key is the score's float32 bit pattern, which
 *   orders non-negative floats); candidate unless score < threshold
 *   -> exactly one candidate: output as is (no NMS)
 *   -> else those with score > threshold (strict), the top_k best (score
 *      descending, then candidate order: stride 8, 16, 32, then row-major)
 *   -> greedy NMS on Rect2i(int(x), int(y), int(w), int(h)): keep unless
 *      1.f - (float)(1.0 - I / U) > nms_threshold against a kept face, decided
 *      exactly in 128-bit integers (see iou_mid_m)
 *   -> at most max_detections faces, in keep order.
 * Decode (fixed point): cx = (c + b0) * s, w = exp(b2) * s, x = cx - w / 2 held
 * exactly in Q21 pixels; landmark n = ((k[2n] + c) * s, (k[2n+1] + r) * s).
 *
 * Input kinds:
 *   UP_INPUT_S8 ... int8 tensors; host tables per stride: cls / obj as float32
 *                   bit patterns of the dequantized, clamped probabilities;
 *                   bbox centers (Q20), exp of bbox sizes (Q20, saturated to
 *                   INT32_MAX), kps (Q20)
 *   UP_INPUT_F32 .. float32 tensors read as their bit patterns, in integers
 *                   only: cls / obj exactly as above; bbox and kps rounded
 *                   to Q20 (floor(x * 2^20 + 0.5)) when a point is decoded
 *                   (NaN / Inf probabilities: UP_ERR_NONFINITE; a decoded
 *                   value NaN, Inf or beyond +-2048: UP_ERR_RANGE)
 * Output: boxes Q12 pixel corners x1, y1, x2, y2 of the padded input (padding
 * is bottom / right, so these are input pixels); keypoints Q12 pixels, 5
 * (x, y) pairs; scores Q30; anchors: the point's index over the three strides.
 * Sizes: pad_w, pad_h multiples of 32 up to UP_YUNET_MAX_SIDE, so every
 * coordinate fits int32 in Q12 (|kps| and |b0|, |b1| <= 2048 cells in Q20).
 */
#define UP_YUNET_LEVELS 3
#define UP_YUNET_KPS 10
#define UP_Q_PIXEL 12
#define UP_YUNET_MAX_SIDE (1 << 15)
#define UP_F32_ONE_BITS 0x3f800000 /* 1.0f */

typedef struct {
    int32_t input_kind;     /* UP_INPUT_S8 or UP_INPUT_F32 */
    int32_t pad_w;          /* padded input size: multiples of 32 */
    int32_t pad_h;
    int32_t product_bound;  /* candidate when the float32 bits of cls * obj > product_bound */
    int32_t nms_bound;      /* enters NMS when the score's float32 bits > nms_bound (-1: no second test) */
    int32_t top_k;          /* candidates entering NMS at most, 1..N */
    int32_t max_detections; /* outputs at most, 1..top_k */
    bool lone_rule;         /* exactly one candidate: output without the second test */
    bool iou_keep_all;      /* nms_threshold >= 1: nothing is suppressed */
    bool iou_mid_inclusive; /* I / U == mid counts as kept (the largest kept double has an even mantissa) */
    int32_t iou_mid_e;      /* keep when I * 2^e < m * U (<= if inclusive): mid = m / 2^e, e in 0..100 */
    uint64_t iou_mid_m;     /* mid: halfway between the largest kept double I / U and the next double */
    /* S8 tables (256 entries each, indexed by q + 128), one per stride; NULL for I32. */
    const int32_t *cls_lut[UP_YUNET_LEVELS];    /* float32 bits */
    const int32_t *obj_lut[UP_YUNET_LEVELS];    /* float32 bits */
    const int32_t *center_lut[UP_YUNET_LEVELS]; /* Q20 */
    const int32_t *size_lut[UP_YUNET_LEVELS];   /* Q20 exp */
    const int32_t *kps_lut[UP_YUNET_LEVELS];    /* Q20 */
} up_yunet_config_t;

/* The 12 tensors of one image, each contiguous ([N_s][1], [N_s][1], [N_s][4], [N_s][10]), int8 or float32. */
typedef struct {
    const void *cls[UP_YUNET_LEVELS];
    const void *obj[UP_YUNET_LEVELS];
    const void *bbox[UP_YUNET_LEVELS];
    const void *kps[UP_YUNET_LEVELS];
} up_yunet_tensors_t;

/* Points of a config (sum of N_s), 0 if the sizes are invalid. */
int32_t up_yunet_num_points(const up_yunet_config_t *cfg);
int32_t up_yunet_check_config(const up_yunet_config_t *cfg);
/* Bytes of scratch (4-byte aligned): 8 per top_k candidate and 16 per output. 0 if the config is invalid. */
size_t up_yunet_scratch_size(const up_yunet_config_t *cfg);
/* out->keypoints is required ([capacity][10]); capacity >= max_detections. */
int32_t up_yunet_run(const up_yunet_config_t *cfg, const up_yunet_tensors_t *t, void *scratch,
                     size_t scratch_size, up_output_t *out);

/* IEEE-754 float32 helpers on bit patterns of values in [0, 1], round to nearest even (exposed for tests). */
uint32_t up_f32_mul_bits(uint32_t a, uint32_t b);
uint32_t up_f32_sqrt_bits(uint32_t a);

/* ---------------------------------------------------------------------------
 * Pre-processing: a camera frame to the model's input tensor.
 *
 *   frame (row stride, crop rectangle, pixel format)
 *   -> source channels (RGB, or one gray channel), converted row by row
 *   -> separable resize in two passes: horizontal first, over a ring of y_taps
 *      filtered rows computed on demand, or vertical first (v_first)
 *   -> placed at rect (stretch: the whole input; letterbox: a border of pad_value)
 *   -> per output channel a 256-entry table: int8/uint8 bytes, or 32-bit words
 *      (the float32 bit patterns of numpy's (x - mean) / std, made on the host;
 *      the C only copies them, so it stays integer only)
 *   -> NHWC or NCHW, 3 channels.
 *
 * All coefficient tables are made on the host from the named references'
 * double-precision rules and checked once by up_pre_check_config:
 *   PIL ....... Pillow Image.resize(BILINEAR): Q22 coefficients, both passes
 *               (acc + 2^21) >> 22 clipped to 0..255, in Pillow's pass order.
 *   CV2 ....... OpenCV INTER_LINEAR_EXACT: Q8 coefficients, first pass kept
 *               exact (Q8), second (acc + 2^15) >> 16: the order cannot matter.
 *   NEAREST ... OpenCV INTER_NEAREST_EXACT: one tap of coefficient 1.
 * Pixel formats (converted exactly as OpenCV's cvtColor does):
 *   RGB565 .... little-endian 16-bit words, R in bits 15..11, B in 4..0;
 *               r = r5 << 3, g = g6 << 2, b = b5 << 3 (COLOR_BGR5652RGB).
 *   YUYV ...... Y0 U Y1 V (two pixels share U, V), integer BT.601 with Q20
 *               coefficients (COLOR_YUV2RGB_YUYV); frame width even.
 *   RGBA8888 .. alpha ignored. GRAY8 .. resized as one channel.
 * A crop is cut first, then resized (Pillow: crop(box).resize(size)).
 *
 * Scaling and overflow: the check bounds every accumulator below 2^31
 * (255 * sum |coefficients| + bias, per pass); results clip to 0..255.
 * ------------------------------------------------------------------------- */



#define UP_PRE_MAX_DIM 32767 /* frame, crop and input sides at most */
#define UP_PRE_MAX_TAPS 4096 /* filter taps per output pixel at most */

typedef enum {
    UP_PIX_RGB888 = 0,
    UP_PIX_BGR888 = 1,
    UP_PIX_RGBA8888 = 2,
    UP_PIX_GRAY8 = 3,
    UP_PIX_RGB565 = 4,
    UP_PIX_YUYV = 5
} up_pixel_format_t;

typedef enum { UP_RESAMPLE_PIL = 0, UP_RESAMPLE_CV2 = 1, UP_RESAMPLE_NEAREST = 2 } up_resample_t;

typedef enum { UP_LAYOUT_NHWC = 0, UP_LAYOUT_NCHW = 1 } up_layout_t;

/*
 * A prepared pre-processing config (made on the host, checked once).
 * Source channels: RGB for every format but GRAY8 (one channel) and BGR888
 * (B, G, R as stored); channel_map[c] names the source channel of output
 * channel c, so channel order and BGR frames cost nothing.
 * Filter tables: output column j of the rect reads crop columns
 * x_start[j] .. x_start[j] + x_taps - 1 with x_coeff[j * x_taps + t]; rows alike.
 */
typedef struct {
    uint8_t pixel_format;  /* up_pixel_format_t */
    uint8_t resample;      /* up_resample_t: the rounding of each pass */
    uint8_t layout;        /* up_layout_t */
    uint8_t out_bytes;     /* 1: lut8 bytes (int8 or uint8); 4: lut32 words */
    int32_t frame_width;   /* the frame this config is for, pixels */
    int32_t frame_height;
    int32_t crop_x;        /* the part of the frame resized */
    int32_t crop_y;
    int32_t crop_width;
    int32_t crop_height;
    int32_t out_width;     /* the model input, 3 channels */
    int32_t out_height;
    int32_t rect_x;        /* where the resized crop lands in the input */
    int32_t rect_y;
    int32_t rect_width;
    int32_t rect_height;
    int32_t x_taps;        /* 1..UP_PRE_MAX_TAPS, <= crop_width */
    int32_t y_taps;        /* 1..UP_PRE_MAX_TAPS, <= crop_height */
    const int32_t *x_start; /* [rect_width] in 0..crop_width - x_taps */
    const int32_t *x_coeff; /* [rect_width][x_taps] */
    const int32_t *y_start; /* [rect_height] in 0..crop_height - y_taps */
    const int32_t *y_coeff; /* [rect_height][y_taps] */
    const uint8_t *lut8;    /* [3][256], out_bytes == 1 */
    const uint32_t *lut32;  /* [3][256], out_bytes == 4 */
    uint8_t channel_map[3]; /* output channel c reads source channel channel_map[c] */
    uint8_t pad_value;      /* letterbox border, a source value (goes through the table) */
    bool v_first;           /* vertical pass first. PIL: as Pillow >= 13 does when the height
                               shrinks much more than the width (its 8-bit rows between the
                               passes make the order visible); CV2, NEAREST: exact either way,
                               the host picks the cheaper order */
} up_pre_config_t;

/* Checks a config once: UP_OK, UP_ERR_NULL or UP_ERR_CONFIG. */
int32_t up_pre_check_config(const up_pre_config_t *cfg);

/* Bytes of scratch up_pre_run needs (0 if the config is invalid): the ring of
 * y_taps filtered rows (int32) and an accumulator row, or with v_first one
 * accumulator row over the crop width; one resized row; for RGB565 / YUYV
 * one converted crop row. */
size_t up_pre_scratch_size(const up_pre_config_t *cfg);

/*
 * One frame to one input tensor. frame: height rows, stride_bytes apart, of
 * width pixels in the config's format (width, height must be the config's).
 * out: out_size bytes >= out_width * out_height * 3 * out_bytes, aligned to
 * out_bytes. scratch: up_pre_scratch_size() bytes, 4-byte aligned.
 * Returns UP_OK, UP_ERR_NULL, UP_ERR_FRAME, UP_ERR_STRIDE, UP_ERR_SCRATCH or
 * UP_ERR_OUTPUT (the config is trusted: check it once first).
 */
int32_t up_pre_run(const up_pre_config_t *cfg, const uint8_t *frame, int32_t width, int32_t height,
                   int32_t stride_bytes, void *scratch, size_t scratch_size, void *out, size_t out_size);

/* ---------------------------------------------------------------------------
 * Warp: OpenCV's warpAffine / warpPerspective (INTER_LINEAR, BORDER_CONSTANT)
 * byte for byte, as MediaPipe's letterbox of BlazeFace's input. A transform
 * that keeps the axes (scale and shift) takes one position per output column
 * and one per row; any other, one per output pixel (per_pixel).
 *
 *   Source positions come from the host in OpenCV's own fixed point, 1/32
 *   pixel (INTER_BITS = 5): column * 32 + fraction, rounded as the reference
 *   function does it (warpAffine: rows and columns in Q10, AB_BITS, then
 *   (v + 16) >> 5; warpPerspective: each pixel in double, rounded half to
 *   even). Column and row are OpenCV's 16-bit map values (-32768..32767).
 *   Each output value blends the 2x2 source pixels at (column, row) with
 *   OpenCV's Q15 weights (INTER_REMAP_COEF_BITS, its BilinearTab_i): for
 *   fractions (fx, fy), (32 - fx)(32 - fy) * 32, fx (32 - fy) * 32,
 *   (32 - fx) fy * 32, fx fy * 32, except fx = fy = 0: 32767, 0, 0, 1 (its
 *   16-bit saturation and sum fix-up); value = (acc + 2^14) >> 15. A
 *   neighbour outside the frame reads border_value; a position whose 2x2
 *   block lies wholly outside gives border_value.
 *   -> per output channel a 256-entry table, NHWC or NCHW, as up_pre_run.
 * Frames: RGB888, BGR888, RGBA8888 (alpha ignored) or GRAY8.
 * ------------------------------------------------------------------------- */

#define UP_WARP_FRAC_BITS 5    /* OpenCV's INTER_BITS */
#define UP_WARP_MAX_DIM 32767  /* frame and input sides at most */

typedef struct {
    uint8_t pixel_format;   /* UP_PIX_RGB888, _BGR888, _RGBA8888 or _GRAY8 */
    uint8_t layout;         /* up_layout_t */
    uint8_t out_bytes;      /* 1: lut8 bytes (int8 or uint8); 4: lut32 words */
    uint8_t border_value;   /* source value outside the frame (OpenCV's borderValue) */
    int32_t frame_width;    /* the frame this config is for, pixels */
    int32_t frame_height;
    int32_t out_width;      /* the model input, 3 channels */
    int32_t out_height;
    bool per_pixel;         /* x_pos and y_pos are [out_height][out_width] (a warpPerspective whose
                               rounding ties couple the axes); otherwise x_pos [out_width], y_pos [out_height] */
    const int32_t *x_pos;   /* source column * 32 + fraction (0..31), column -32768..32767 */
    const int32_t *y_pos;   /* source row * 32 + fraction */
    const uint8_t *lut8;    /* [3][256], out_bytes == 1 */
    const uint32_t *lut32;  /* [3][256], out_bytes == 4 */
    uint8_t channel_map[3]; /* output channel c reads source channel channel_map[c] */
} up_warp_config_t;

/* Checks a config once: UP_OK, UP_ERR_NULL or UP_ERR_CONFIG. */
int32_t up_warp_check_config(const up_warp_config_t *cfg);

/* Bytes of scratch up_warp_run needs (0 if the config is invalid): one warped row. */
size_t up_warp_scratch_size(const up_warp_config_t *cfg);

/*
 * One frame to one input tensor. frame: height rows, stride_bytes apart, of
 * width pixels in the config's format (width, height must be the config's).
 * out: out_size bytes >= out_width * out_height * 3 * out_bytes, aligned to
 * out_bytes. scratch: up_warp_scratch_size() bytes, any alignment.
 * Returns UP_OK, UP_ERR_NULL, UP_ERR_CONFIG, UP_ERR_FRAME, UP_ERR_STRIDE,
 * UP_ERR_SCRATCH or UP_ERR_OUTPUT. Positions are not re-checked per frame
 * (any value is read safely; check the config once for OpenCV's range).
 */
int32_t up_warp_run(const up_warp_config_t *cfg, const uint8_t *frame, int32_t width, int32_t height,
                    int32_t stride_bytes, void *scratch, size_t scratch_size, void *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif /* ULTRAPOST_H */
