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
#ifndef UP_YUNET_H
#define UP_YUNET_H

#include "ultrapost.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UP_YUNET_LEVELS 3
#define UP_YUNET_KPS 10
#define UP_Q_PIXEL 12
#define UP_YUNET_MAX_SIDE (1 << 15)
#define UP_F32_ONE_BITS 0x3f800000 /* 1.0f */
#define UP_ERR_RANGE (-8) /* a decoded input value is NaN, Inf or beyond the supported range */

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

#ifdef __cplusplus
}
#endif
#endif /* UP_YUNET_H */
