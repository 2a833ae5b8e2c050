# Declarations mirroring csrc/ultrapost.h and csrc/host/up_host.h one to one.
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t


cdef extern from "ultrapost.h" nogil:
    int UP_OK
    int UP_Q_BOX
    int UP_Q_SCORE

    ctypedef struct up_config_t:
        int32_t num_anchors
        int32_t num_classes
        int32_t class_index
        uint8_t input_kind
        uint8_t score_kind
        uint8_t box_kind
        uint8_t nms_kind
        bint clip
        int32_t score_bound
        int32_t candidate_limit
        int32_t max_detections
        int32_t iou_q16
        int64_t iou_eps_q40
        int32_t var_center_q30
        int32_t var_size_q30
        const int32_t *priors
        const int32_t *score_lut
        const int32_t *center_lut
        const int32_t *size_lut
        const int32_t *box_lut
        int32_t pad_x_q20
        int32_t pad_y_q20
        int32_t logit_clip_q20
        int32_t soft_min_q30
        int32_t soft_inv_sigma_q16
        int32_t num_keypoints
        int32_t num_labels
        const int32_t *keypoint_lut
        const int32_t *label_bounds
        int64_t iou_num
        int32_t iou_shift

    ctypedef struct up_output_t:
        int32_t *boxes
        int32_t *scores
        int32_t *anchors
        int32_t capacity
        int32_t count
        int32_t *keypoints
        int32_t *labels

    int32_t up_check_config(const up_config_t *cfg)
    size_t up_scratch_size(const up_config_t *cfg)
    int32_t up_run(const up_config_t *cfg, const void *scores, int32_t score_stride,
                   const void *boxes, int32_t box_stride, void *scratch, size_t scratch_size,
                   up_output_t *out)
    int32_t up_run_keypoints(const up_config_t *cfg, const void *scores, int32_t score_stride,
                             const void *boxes, int32_t box_stride, const void *keypoints,
                             int32_t keypoint_stride, void *scratch, size_t scratch_size,
                             up_output_t *out)
    int32_t up_exp_q20(int32_t x_q20)
    int32_t up_sigmoid_q30(int32_t x_q20)

cdef extern from "ultrapost.h" nogil:  # pre-processing
    int UP_ERR_FRAME

    ctypedef struct up_pre_config_t:
        uint8_t pixel_format
        uint8_t resample
        uint8_t layout
        uint8_t out_bytes
        int32_t frame_width
        int32_t frame_height
        int32_t crop_x
        int32_t crop_y
        int32_t crop_width
        int32_t crop_height
        int32_t out_width
        int32_t out_height
        int32_t rect_x
        int32_t rect_y
        int32_t rect_width
        int32_t rect_height
        int32_t x_taps
        int32_t y_taps
        const int32_t *x_start
        const int32_t *x_coeff
        const int32_t *y_start
        const int32_t *y_coeff
        const uint8_t *lut8
        const uint32_t *lut32
        uint8_t channel_map[3]
        uint8_t pad_value
        bint v_first

    int32_t up_pre_check_config(const up_pre_config_t *cfg)
    size_t up_pre_scratch_size(const up_pre_config_t *cfg)
    int32_t up_pre_run(const up_pre_config_t *cfg, const uint8_t *frame, int32_t width, int32_t height,
                       int32_t stride_bytes, void *scratch, size_t scratch_size, void *out, size_t out_size)

    ctypedef struct up_warp_config_t:
        uint8_t pixel_format
        uint8_t layout
        uint8_t out_bytes
        uint8_t border_value
        int32_t frame_width
        int32_t frame_height
        int32_t out_width
        int32_t out_height
        bint per_pixel
        const int32_t *x_pos
        const int32_t *y_pos
        const uint8_t *lut8
        const uint32_t *lut32
        uint8_t channel_map[3]

    int32_t up_warp_check_config(const up_warp_config_t *cfg)
    size_t up_warp_scratch_size(const up_warp_config_t *cfg)
    int32_t up_warp_run(const up_warp_config_t *cfg, const uint8_t *frame, int32_t width, int32_t height,
                        int32_t stride_bytes, void *scratch, size_t scratch_size, void *out, size_t out_size)


cdef extern from "up_host.h" nogil:
    enum: UP_F32_LOGIT2_WORDS
    int32_t up_f32_to_fixed(float x, int q, int32_t lo, int32_t hi)
    size_t up_host_pre_scratch_size(const up_pre_config_t *cfg)
    int32_t up_host_pre_run(const up_pre_config_t *cfg, const uint8_t *frame, int32_t width, int32_t height,
                            int32_t stride_bytes, void *scratch, size_t scratch_size, void *out, size_t out_size)
    size_t up_scratch_size_f32(const up_config_t *cfg)
    size_t up_host_scratch_size(const up_config_t *cfg)
    int32_t up_host_run(const up_config_t *cfg, const void *scores, int32_t score_stride,
                        const void *boxes, int32_t box_stride, void *scratch, size_t scratch_size,
                        up_output_t *out)
    int32_t up_host_run_keypoints(const up_config_t *cfg, const void *scores, int32_t score_stride,
                                  const void *boxes, int32_t box_stride, const void *keypoints,
                                  int32_t keypoint_stride, void *scratch, size_t scratch_size,
                                  up_output_t *out)
    int32_t up_run_f32(const up_config_t *cfg, const float *scores, int32_t score_stride,
                       const float *boxes, int32_t box_stride, void *scratch, size_t scratch_size,
                       up_output_t *out)
    int32_t up_run_f32_keypoints(const up_config_t *cfg, const float *scores, int32_t score_stride,
                                 const float *boxes, int32_t box_stride, const float *keypoints,
                                 int32_t keypoint_stride, void *scratch, size_t scratch_size,
                                 up_output_t *out)


cdef extern from "ultrapost.h" nogil:
    ctypedef struct up_boxes_config_t:
        int32_t count
        uint8_t nms_kind
        uint8_t flags
        int32_t candidate_limit
        int32_t max_output
        int64_t key_bound
        int32_t iou_steps
        const uint64_t *iou_num
        const int32_t *iou_shift
        int32_t value_bound
        int32_t value_q
        int32_t soft_inv_sigma_q16

    ctypedef struct up_boxes_input_t:
        const int32_t *boxes
        const int64_t *keys
        const int32_t *values
        const int32_t *classes

    ctypedef struct up_boxes_output_t:
        int32_t *indices
        int32_t *values
        int32_t *boxes
        int32_t capacity
        int32_t count

    size_t up_boxes_scratch_size(const up_boxes_config_t *cfg)
    int32_t up_boxes_nms(const up_boxes_config_t *cfg, const up_boxes_input_t *inp, void *scratch,
                         size_t scratch_size, up_boxes_output_t *out)
