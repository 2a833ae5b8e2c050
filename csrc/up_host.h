/*
 * Host-only entry point for float32 tensors (the Python binding uses it; it
 * is never part of a firmware build). Floats are converted to the core's
 * fixed point at the boundary, element by element, deterministically:
 *   probabilities -> Q30, clamped to [0, 1]
 *   logits, deltas, corners -> Q20, clamped to [-1024, 1024]
 * with v = x * 2^q exactly in double, clamp, then floor(v + 0.5). Only the
 * elements the pipeline needs are converted; the result equals converting
 * everything first (src/ultrapost/golden.py does that).
 */
#ifndef UP_HOST_H
#define UP_HOST_H

#include "ultrapost.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UP_F32_PROB_Q 30
#define UP_F32_VALUE_Q 20
#define UP_F32_VALUE_LIMIT ((int32_t)1 << 30)

/* One element of the boundary conversion: round(x * 2^q), clamped to [lo, hi]. */
int32_t up_f32_to_fixed(float x, int q, int32_t lo, int32_t hi);

/* Host builds: scratch for up_run / up_run_keypoints that also lets hard NMS test kept boxes 16 at a time
 * (the portable up_scratch_size is enough; this much more is used when given). */
size_t up_host_scratch_size(const up_config_t *cfg);

/* Scratch for up_run_f32: the core's, the kept boxes in blocks of 16 (the NMS pre-test), one int32 key per anchor. */
size_t up_scratch_size_f32(const up_config_t *cfg);

/* As up_run, for a config with input_kind UP_INPUT_F32. Returns
 * UP_ERR_NONFINITE if any score, box or keypoint element read by rows is NaN
 * or Inf. Keypoints, if the config has them, follow the 4 box values in each box row. */
int32_t up_run_f32(const up_config_t *cfg, const float *scores, int32_t score_stride,
                   const float *boxes, int32_t box_stride, void *scratch, size_t scratch_size,
                   up_output_t *out);

/* As up_run_keypoints, for float32 tensors. */
int32_t up_run_f32_keypoints(const up_config_t *cfg, const float *scores, int32_t score_stride,
                             const float *boxes, int32_t box_stride, const float *keypoints,
                             int32_t keypoint_stride, void *scratch, size_t scratch_size,
                             up_output_t *out);

#ifdef __cplusplus
}
#endif
#endif /* UP_HOST_H */
