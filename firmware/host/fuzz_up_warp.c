/*
 * libFuzzer target for the warp stage (build with clang -fsanitize=fuzzer,address,undefined).
 *
 * The first bytes choose a config (pixel format, layout, output bytes, frame and input sizes, per-pixel or per-axis
 * positions, channel map, border value; valid and invalid alike), the frame's row stride, the scratch and output
 * sizes; positions come from a generator seeded by those bytes: around the frame, at OpenCV's 16-bit map limits, or
 * any int32 at all. The remaining bytes fill the frame. Every buffer is its own exact-size heap block, so ASan sees
 * any access past one.
 *
 * Beyond "no crash, no undefined behaviour":
 *  - up_warp_scratch_size is 0 exactly for configs up_warp_check_config rejects;
 *  - a run of a valid config with good arguments returns UP_OK, and a short scratch, a short output, a small stride
 *    or a frame of another size returns its own status;
 *  - a config refused only for its positions (beyond OpenCV's map) still runs safely: the run reads any position
 *    inside the frame or not at all (the header's promise);
 *  - int8/uint8 outputs only hold table values: every output byte of channel c is some lut8[c][v].
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ultrapost.h"

#define MAX_SIDE 40

typedef struct {
    const uint8_t *p;
    size_t n;
    uint64_t rng;
} reader_t;

static uint32_t take(reader_t *r, uint32_t limit)
{
    uint32_t v = 0;
    if (r->n > 0) {
        v = r->p[0];
        r->p++;
        r->n--;
    }
    return limit ? v % limit : v;
}

static uint32_t next(reader_t *r)
{
    r->rng = r->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->rng >> 33);
}

/* count positions in 1/32 pixel for a side of `side` pixels: mode 0 around the frame, 1 at the 16-bit limits,
 * 2 any int32. */
static int32_t *positions(reader_t *r, size_t count, int32_t side, int mode)
{
    int32_t *t = malloc(sizeof(int32_t) * (count > 0 ? count : 1));
    for (size_t i = 0; i < count; i++) {
        uint32_t u = next(r);
        if (mode == 0)
            t[i] = (int32_t)(u % (uint32_t)((side + 6) * 32)) - 3 * 32;
        else if (mode == 1)
            t[i] = (u & 1u) ? 32767 * 32 + (int32_t)(u >> 1 & 31u) : -32768 * 32 + (int32_t)(u >> 1 & 31u);
        else
            t[i] = (int32_t)u ^ (int32_t)(next(r) << 1);
    }
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader_t r = {data, size, 0x9E3779B97F4A7C15ull ^ size};
    up_warp_config_t c;
    memset(&c, 0, sizeof c);
    c.pixel_format = (uint8_t)take(&r, 7);
    c.layout = (uint8_t)take(&r, 3);
    c.out_bytes = (uint8_t)(take(&r, 3) == 0 ? 4 : (take(&r, 5) == 0 ? 2 : 1));
    c.border_value = (uint8_t)take(&r, 0);
    c.frame_width = (int32_t)take(&r, MAX_SIDE + 1);
    c.frame_height = (int32_t)take(&r, MAX_SIDE + 1);
    c.out_width = (int32_t)take(&r, MAX_SIDE + 1);
    c.out_height = (int32_t)take(&r, MAX_SIDE + 1);
    c.per_pixel = take(&r, 2) != 0;
    for (int i = 0; i < 3; i++) c.channel_map[i] = (uint8_t)take(&r, 4);
    const int mode = (int)take(&r, 3);
    const int32_t stride_cut = (int32_t)take(&r, 3);
    const int32_t scratch_cut = (int32_t)take(&r, 3);
    const int32_t out_cut = (int32_t)take(&r, 3);
    const bool other_size = take(&r, 4) == 0;
    r.rng ^= (uint64_t)take(&r, 0) << 17;

    const size_t ow = (size_t)(c.out_width > 0 ? c.out_width : 0), oh = (size_t)(c.out_height > 0 ? c.out_height : 0);
    const size_t nx = c.per_pixel ? ow * oh : ow, ny = c.per_pixel ? ow * oh : oh;
    int32_t *xp = positions(&r, nx, c.frame_width, mode);
    int32_t *yp = positions(&r, ny, c.frame_height, mode == 1 ? 0 : mode);
    uint8_t *lut8 = malloc(768);
    uint32_t *lut32 = malloc(768 * sizeof(uint32_t));
    for (int i = 0; i < 768; i++) {
        lut8[i] = (uint8_t)next(&r);
        lut32[i] = next(&r);
    }
    c.x_pos = xp;
    c.y_pos = yp;
    c.lut8 = lut8;
    c.lut32 = lut32;

    const int32_t status = up_warp_check_config(&c);
    const size_t need = up_warp_scratch_size(&c);
    if ((status == UP_OK) != (need > 0)) abort();
    /* the shape alone valid: what a run relies on (its positions may still be refused by the check) */
    const int32_t bpp = c.pixel_format == UP_PIX_RGBA8888                                  ? 4
                        : c.pixel_format == UP_PIX_GRAY8                                   ? 1
                        : (c.pixel_format == UP_PIX_RGB888 || c.pixel_format == UP_PIX_BGR888) ? 3
                                                                                           : 0;
    const int32_t n = c.pixel_format == UP_PIX_GRAY8 ? 1 : 3;
    const bool shape_ok = bpp > 0 && c.layout <= UP_LAYOUT_NCHW && (c.out_bytes == 1 || c.out_bytes == 4) &&
                          c.frame_width >= 1 && c.frame_height >= 1 && ow >= 1 && oh >= 1 && c.channel_map[0] < n &&
                          c.channel_map[1] < n && c.channel_map[2] < n;
    if (status == UP_OK && !shape_ok) abort();
    if (shape_ok) {
        const int32_t stride = c.frame_width * bpp + (stride_cut == 2 ? 5 : 0) - (stride_cut == 1 ? 1 : 0);
        const size_t frame_bytes = (size_t)stride * (size_t)(c.frame_height - 1) + (size_t)(c.frame_width * bpp);
        uint8_t *frame = malloc(frame_bytes); /* exactly to the last pixel: no slack after the last row */
        for (size_t i = 0; i < frame_bytes; i++) frame[i] = (uint8_t)take(&r, 0);
        const size_t row = ow * (size_t)n;
        const size_t scratch_size = scratch_cut == 1 ? row - 1 : row;
        void *scratch = malloc(scratch_size > 0 ? scratch_size : 1);
        const size_t out_need = ow * oh * 3u * c.out_bytes;
        const size_t out_size = out_cut == 1 ? out_need - 1 : out_need;
        void *out = malloc(out_size > 0 ? out_size : 1);
        const int32_t got = up_warp_run(&c, frame, c.frame_width + (other_size ? 1 : 0), c.frame_height,
                                        stride, scratch, scratch_size, out, out_size);
        int32_t want = UP_OK;
        if (other_size) want = UP_ERR_FRAME;
        else if (stride_cut == 1) want = UP_ERR_STRIDE;
        else if (scratch_cut == 1) want = UP_ERR_SCRATCH;
        else if (out_cut == 1) want = UP_ERR_OUTPUT;
        if (got != want) abort();
        if (got == UP_OK && c.out_bytes == 1) {
            const size_t plane = ow * oh;
            for (size_t i = 0; i < out_need; i++) {
                const size_t ch = c.layout == UP_LAYOUT_NCHW ? i / plane : i % 3u;
                bool found = false;
                for (int v = 0; v < 256 && !found; v++) found = lut8[256 * ch + (size_t)v] == ((uint8_t *)out)[i];
                if (!found) abort();
            }
        }
        free(frame);
        free(scratch);
        free(out);
    }
    free(xp);
    free(yp);
    free(lut8);
    free(lut32);
    return 0;
}
