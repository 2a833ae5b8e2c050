/*
 * ultrapost host library: the portable core (ultrapost.h) plus what only a
 * host runs -- the float32 boundary and SIMD fast paths (AVX2 on x86-64 with
 * GCC or Clang, chosen at run time; NEON pre-tests on aarch64; define
 * UP_HOST_NO_SIMD to build only the portable code, as other hosts get). Never
 * part of a firmware build.
 *
 * Build: every .c file of csrc/ and of csrc/host/, with -I csrc -I csrc/host.
 * The host code calls the core; the core knows nothing of it.
 *
 * Every entry point returns the core's status codes (ultrapost.h) and gives
 * the outputs up_run gives for the same config and integer inputs; only the
 * work done to get them differs.
 *
 * The float32 boundary converts elements to the core's fixed point one by one,
 * deterministically:
 *   probabilities -> Q30, clamped to [0, 1] (a passing one above 1 is
 *                    UP_ERR_RANGE)
 *   logits, deltas, corners, keypoints -> Q20; a value beyond +-1024 in
 *                    boxes, keypoints or logit scores is UP_ERR_RANGE
 *                    (NaN or Inf anywhere: UP_ERR_NONFINITE, first)
 * with v = x * 2^q exactly in double, then floor(v + 0.5). Only the
 * elements the pipeline needs are converted; the result equals converting
 * everything first and running the config as UP_INPUT_I32
 * (golden/f32.py and golden/pipeline.py do that), except for the score
 * test, which is decided on the given floats, exactly:
 *   PROB, LOGIT1 .. order key of the float32 (ultrapost.h: F32 PROB bounds)
 *                   > score_bound (label_bounds): the key of the largest
 *                   float32 failing sigmoid(clamp(x)) > t, made on the host;
 *   LOGIT2 ........ the real x1 - x0 > ln(t / (1 - t)), read from the
 *                   UP_F32_LOGIT2_WORDS int32 words at score_lut (required):
 *                   [0..1] lo and [2..3] hi, the bits (low half first) of
 *                   the doubles lo <= T <= hi next to T = (F + 1/2) / 2^149,
 *                   [4..9] F as a 192-bit two's complement integer (32-bit
 *                   limbs, least significant first). A row passes when the
 *                   double x1 - x0 (rounded to nearest) is above hi, fails
 *                   below lo, else when (x1 - x0) * 2^149 > F in integers.
 *                   score_bound stays the Q20 bound (a pre-test's only).
 * Candidates are then ordered by the converted key (Q30 probability; Q20
 * logit, clamped; the saturated difference of the two Q20 logits).
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
#define UP_F32_LOGIT2_WORDS 10

/* One element of the boundary conversion: round(x * 2^q), clamped to [lo, hi]; NaN gives 0. */
int32_t up_f32_to_fixed(float x, int q, int32_t lo, int32_t hi);

/* Scratch for up_host_run / up_host_run_keypoints with which the host's fast paths run: the portable
 * up_scratch_size plus room for the kept boxes and for sorting 16 bytes per candidate (0 if the config is
 * invalid). */
size_t up_host_scratch_size(const up_config_t *cfg);

/* As up_run_keypoints, for int8 or int32 tensors. Given at least up_host_scratch_size bytes of scratch, the
 * held candidates are sorted as packed values and hard NMS takes the host's path (a pre-test of 16 kept boxes
 * at a time, vectorized where the CPU can); given less, but at least up_scratch_size, the core's stages run
 * as up_run_keypoints runs them. */
int32_t up_host_run_keypoints(const up_config_t *cfg, const void *scores, int32_t score_stride,
                              const void *boxes, int32_t box_stride, const void *keypoints,
                              int32_t keypoint_stride, void *scratch, size_t scratch_size,
                              up_output_t *out);

/* As up_run (keypoints, if the config has them, follow the 4 box values in each box row), on the host's path. */
int32_t up_host_run(const up_config_t *cfg, const void *scores, int32_t score_stride, const void *boxes,
                    int32_t box_stride, void *scratch, size_t scratch_size, up_output_t *out);

/* Scratch for up_run_f32 / up_run_f32_keypoints: the core's, the kept boxes in blocks of 16, one int32 key
 * and two uint64 per anchor (packed candidates, later converted box rows), and the converted keypoint rows
 * when the config has keypoints (0 if the config is invalid). */
size_t up_scratch_size_f32(const up_config_t *cfg);

/* As up_run_keypoints, for a config with input_kind UP_INPUT_F32 and float32 tensors. Returns
 * UP_ERR_NONFINITE if any score, box or keypoint element of the rows read is NaN or Inf. */
int32_t up_run_f32_keypoints(const up_config_t *cfg, const float *scores, int32_t score_stride,
                             const float *boxes, int32_t box_stride, const float *keypoints,
                             int32_t keypoint_stride, void *scratch, size_t scratch_size,
                             up_output_t *out);

/* As up_run_f32_keypoints, with the keypoints (if the config has them) after the 4 box values in each box row. */
int32_t up_run_f32(const up_config_t *cfg, const float *scores, int32_t score_stride,
                   const float *boxes, int32_t box_stride, void *scratch, size_t scratch_size,
                   up_output_t *out);

/* The pre-processing stage (up_pre_run) driven faster: the same bytes and statuses. Scratch: at least
 * up_host_pre_scratch_size(cfg) bytes, 4-byte aligned (0 if the config is invalid); it is never smaller
 * than up_pre_scratch_size(cfg). */
size_t up_host_pre_scratch_size(const up_pre_config_t *cfg);
int32_t up_host_pre_run(const up_pre_config_t *cfg, const uint8_t *frame, int32_t width, int32_t height,
                        int32_t stride_bytes, void *scratch, size_t scratch_size, void *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif /* UP_HOST_H */
