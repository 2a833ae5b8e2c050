/*
 * The pre-processing stage's declarations. They join csrc/ultrapost.h (the one public header) once the csrc
 * layout move has landed; until then they live here so that the move and this stage do not edit the same file.
 */
#ifndef UP_PREPROCESS_API_H
#define UP_PREPROCESS_API_H

#include "ultrapost.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UP_ERR_FRAME (-9) /* pre-processing: the frame's size differs from the config's (-8 is UP_ERR_RANGE) */

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

#ifdef __cplusplus
}
#endif
#endif /* UP_PREPROCESS_API_H */
