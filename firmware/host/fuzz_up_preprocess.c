/*
 * libFuzzer target for the pre-processing stage (build with clang -fsanitize=fuzzer,address,undefined).
 *
 * The first bytes choose a config (pixel format, resample kind, pass order, layout, output bytes, frame, crop,
 * input and rect sizes, taps, channel map, pad value; valid and invalid alike), the frame's row stride, the
 * scratch and output sizes; filter tables come from a generator seeded by those bytes, mixed with extreme
 * values (starts past the end, huge coefficients, rows out of order); the remaining bytes fill the frame.
 * Every buffer is its own exact-size heap block, so ASan sees any access past one.
 *
 * Beyond "no crash, no undefined behaviour":
 *  - up_pre_scratch_size is 0 exactly for configs up_pre_check_config rejects;
 *  - a run with good arguments returns UP_OK, and a short scratch, a short output, a small stride or a frame
 *    of another size returns its own status;
 *  - int8/uint8 outputs only hold table values: every output byte of channel c is some lut8[c][v];
 *  - the host's driver (up_host_pre_run, csrc/host: SIMD passes with 16-byte loads near the frame's end) returns
 *    the same status and the same bytes, with its own scratch (as short, in the short-scratch case).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "up_host.h"

#define MAX_SIDE 48
#define MAX_TAPS 8

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

static int32_t *table(reader_t *r, int32_t count, int32_t taps, int32_t limit, int mode, bool coeff)
{
    int32_t *t = malloc(sizeof(int32_t) * (size_t)(count > 0 ? count : 1) * (size_t)(taps > 0 ? taps : 1));
    if (limit < 0) limit = 0;
    for (int32_t i = 0; i < count * (taps > 0 ? taps : 1); i++) {
        uint32_t u = next(r);
        if (coeff)
            t[i] = mode == 3 ? (int32_t)(u | 0x40000000u) : (int32_t)(u % (1u << 22)) - (mode == 2 ? (1 << 21) : 0);
        else
            t[i] = mode == 3 ? (int32_t)(u % (uint32_t)(limit + 3)) - 1 : (int32_t)(u % (uint32_t)(limit + 1));
    }
    if (!coeff && mode != 3) { /* sorted, as the ring of filtered rows needs, unless mode 3 breaks it */
        for (int32_t i = 1; i < count; i++)
            if (t[i] < t[i - 1]) t[i] = t[i - 1];
    }
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader_t r = {data, size, 0x9E3779B97F4A7C15ull ^ size};
    up_pre_config_t c;
    memset(&c, 0, sizeof c);
    c.pixel_format = (uint8_t)take(&r, 7);
    c.resample = (uint8_t)take(&r, 4);
    c.layout = (uint8_t)take(&r, 3);
    c.out_bytes = (uint8_t)(take(&r, 3) == 0 ? 4 : (take(&r, 5) == 0 ? 2 : 1));
    c.v_first = take(&r, 2) != 0;
    c.frame_width = (int32_t)take(&r, MAX_SIDE + 1);
    c.frame_height = (int32_t)take(&r, MAX_SIDE + 1);
    c.crop_x = (int32_t)take(&r, 8);
    c.crop_y = (int32_t)take(&r, 8);
    c.crop_width = c.frame_width - c.crop_x - (int32_t)take(&r, 4);
    c.crop_height = c.frame_height - c.crop_y - (int32_t)take(&r, 4);
    c.out_width = (int32_t)take(&r, MAX_SIDE + 1);
    c.out_height = (int32_t)take(&r, MAX_SIDE + 1);
    c.rect_x = (int32_t)take(&r, 4);
    c.rect_y = (int32_t)take(&r, 4);
    c.rect_width = c.out_width - c.rect_x - (int32_t)take(&r, 3);
    c.rect_height = c.out_height - c.rect_y - (int32_t)take(&r, 3);
    c.x_taps = (int32_t)take(&r, MAX_TAPS + 1);
    c.y_taps = (int32_t)take(&r, MAX_TAPS + 1);
    for (int i = 0; i < 3; i++) c.channel_map[i] = (uint8_t)take(&r, 4);
    c.pad_value = (uint8_t)take(&r, 0);
    const int mode = (int)take(&r, 4); /* 0, 1: plain tables; 2: negative coefficients; 3: extreme values */
    const int32_t stride_cut = (int32_t)take(&r, 3);
    const int32_t scratch_cut = (int32_t)take(&r, 3);
    const int32_t out_cut = (int32_t)take(&r, 3);
    r.rng ^= (uint64_t)take(&r, 0) << 17;

    int32_t *xs = table(&r, c.rect_width, 1, c.crop_width - c.x_taps, mode, false);
    int32_t *xk = table(&r, c.rect_width, c.x_taps, 0, mode, true);
    int32_t *ys = table(&r, c.rect_height, 1, c.crop_height - c.y_taps, mode, false);
    int32_t *yk = table(&r, c.rect_height, c.y_taps, 0, mode, true);
    uint8_t *lut8 = malloc(768);
    uint32_t *lut32 = malloc(768 * sizeof(uint32_t));
    for (int i = 0; i < 768; i++) {
        lut8[i] = (uint8_t)next(&r);
        lut32[i] = next(&r);
    }
    c.x_start = xs;
    c.x_coeff = xk;
    c.y_start = ys;
    c.y_coeff = yk;
    c.lut8 = lut8;
    c.lut32 = lut32;

    const int32_t status = up_pre_check_config(&c);
    const size_t need = up_pre_scratch_size(&c);
    if ((status == UP_OK) != (need > 0)) abort();
    if (status == UP_OK) {
        const int32_t bpp = c.pixel_format == UP_PIX_RGBA8888 ? 4
                            : c.pixel_format == UP_PIX_GRAY8   ? 1
                            : (c.pixel_format == UP_PIX_RGB565 || c.pixel_format == UP_PIX_YUYV) ? 2
                                                                                                 : 3;
        const int32_t stride = c.frame_width * bpp + (stride_cut == 2 ? 5 : 0) - (stride_cut == 1 ? 1 : 0);
        const size_t frame_bytes = (size_t)(stride > 0 ? stride : 1) * (size_t)c.frame_height;
        uint8_t *frame = malloc(frame_bytes);
        for (size_t i = 0; i < frame_bytes; i++) frame[i] = (uint8_t)take(&r, 0);
        const size_t scratch_size = scratch_cut == 1 ? need - 1 : need;
        void *scratch = malloc(scratch_size > 0 ? scratch_size : 1);
        const size_t out_need = (size_t)c.out_width * (size_t)c.out_height * 3u * c.out_bytes;
        const size_t out_size = out_cut == 1 ? out_need - 1 : out_need;
        void *out = malloc(out_size > 0 ? out_size : 1);
        const bool other_size = mode == 1 && stride_cut == 0 && scratch_cut == 0;
        const int32_t got = up_pre_run(&c, frame, c.frame_width + (other_size ? 1 : 0), c.frame_height,
                                       stride, scratch, scratch_size, out, out_size);
        int32_t want = UP_OK;
        if (other_size) want = UP_ERR_FRAME;
        else if (stride_cut == 1) want = UP_ERR_STRIDE;
        else if (scratch_cut == 1) want = UP_ERR_SCRATCH;
        else if (out_cut == 1) want = UP_ERR_OUTPUT;
        if (got != want) abort();
        const size_t host_need = up_host_pre_scratch_size(&c);
        if (host_need < need) abort();
        const size_t host_size = scratch_cut == 1 ? host_need - 1 : host_need;
        void *host_scratch = malloc(host_size > 0 ? host_size : 1);
        void *host_out = malloc(out_size > 0 ? out_size : 1);
        const int32_t host_got = up_host_pre_run(&c, frame, c.frame_width + (other_size ? 1 : 0), c.frame_height,
                                                 stride, host_scratch, host_size, host_out, out_size);
        if (host_got != want) abort();
        if (got == UP_OK && memcmp(out, host_out, out_need) != 0) abort();
        free(host_scratch);
        free(host_out);
        if (got == UP_OK && c.out_bytes == 1) {
            const size_t plane = (size_t)c.out_width * (size_t)c.out_height;
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
    free(xs);
    free(xk);
    free(ys);
    free(yk);
    free(lut8);
    free(lut32);
    return 0;
}
