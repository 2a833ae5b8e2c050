/*
 * Host twin of firmware/src/harness.c for the sanitizers: reads the same
 * vector file (UPVEC001 or UPVEC002), runs up_run (up_run_keypoints for a
 * record with keypoint rows of their own, up_yunet_run for a YuNet config) with the
 * compiled-in configs (configs.h) and writes
 * the same outputs file, so its results compare byte for byte with the
 * boards'. Built with -fsanitize=address,undefined (or run under valgrind).
 *
 * Unlike the firmware, every buffer is its own heap block of exactly the size
 * the core is promised, so ASan / valgrind catch a read or write one byte past
 * the input rows, the scratch or the outputs.
 *
 * usage: vector_runner VECTORS OUTPUTS
 * exit: 0 ok, 2 usage, 3 I/O, 4 malformed vectors, 7 input modified
 * (the firmware's FW_EXIT_* values).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configs.h"
#include "ultrapost.h"

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void put_i32(FILE *f, int32_t v)
{
    uint32_t u = (uint32_t)v;
    uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    fwrite(b, 1, 4, f);
}

static int fail(int code, const char *what, uint32_t record)
{
    fprintf(stderr, "vector_runner: %s, record %u\n", what, (unsigned)record);
    return code;
}

/* Exact-size copy: an empty request still gets a distinct (1-byte) block. */
static void *exact(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "vector_runner: out of memory\n");
        exit(3);
    }
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vector_runner VECTORS OUTPUTS\n");
        return 2;
    }
    for (int c = 0; c < UP_FW_NUM_CONFIGS; c++) {
        const up_yunet_config_t *y = up_fw_yunet_configs[c];
        if ((up_fw_configs[c] != NULL) == (y != NULL)
            || (y ? up_yunet_check_config(y) : up_check_config(up_fw_configs[c])) != UP_OK) {
            fprintf(stderr, "vector_runner: config %s rejected\n", up_fw_config_names[c]);
            return 6;
        }
    }
    FILE *in = fopen(argv[1], "rb");
    FILE *out = fopen(argv[2], "wb");
    if (!in || !out) {
        return fail(3, "cannot open the files", 0);
    }
    uint8_t header[16];
    if (fread(header, 1, 16, in) != 16
        || (memcmp(header, "UPVEC001", 8) != 0 && memcmp(header, "UPVEC002", 8) != 0) || get_u32(header + 12) != 0) {
        return fail(4, "not a vector file", 0);
    }
    /* UPVEC002: two more header words per record, keypoint_offset and keypoint_stride */
    size_t header_bytes = memcmp(header, "UPVEC002", 8) == 0 ? 48u : 40u;
    uint32_t n = get_u32(header + 8);
    fwrite("UPOUT002", 1, 8, out);
    put_i32(out, (int32_t)n);
    put_i32(out, 0);

    for (uint32_t r = 0; r < n; r++) {
        uint8_t rh[48] = {0};
        if (fread(rh, 1, header_bytes, in) != header_bytes) {
            return fail(4, "truncated record header", r);
        }
        uint32_t cid = get_u32(rh), esize = get_u32(rh + 4), count = get_u32(rh + 8);
        uint32_t soff = get_u32(rh + 12), boff = get_u32(rh + 20);
        int32_t sstride = (int32_t)get_u32(rh + 16), bstride = (int32_t)get_u32(rh + 24);
        int32_t cap = (int32_t)get_u32(rh + 28), scr = (int32_t)get_u32(rh + 32);
        uint32_t koff = get_u32(rh + 40);
        int32_t kstride = (int32_t)get_u32(rh + 44);
        if (cid >= (uint32_t)UP_FW_NUM_CONFIGS || (esize != 1 && esize != 4) || soff > count || boff > count
            || koff > count || (kstride == 0 && koff != 0) || cap < -1 || scr < -1 || count > (1u << 28)
            || get_u32(rh + 36) != 0) {
            return fail(4, "bad record header", r);
        }
        const up_config_t *cfg = up_fw_configs[cid];
        const up_yunet_config_t *ycfg = up_fw_yunet_configs[cid];
        if (ycfg && (esize != (ycfg->input_kind == UP_INPUT_S8 ? 1u : 4u)
                     || count != 16u * (uint32_t)up_yunet_num_points(ycfg) || soff || boff || sstride || bstride
                     || koff || kstride)) {
            return fail(4, "bad YuNet record header", r);
        }
        if (!ycfg && kstride != 0 && cfg->num_keypoints <= 0) {
            return fail(4, "keypoint rows for a config without keypoints", r);
        }
        size_t bytes = (size_t)count * esize, padded = (bytes + 3u) & ~(size_t)3u;
        uint8_t *data = exact(bytes);
        uint8_t pad[4];
        if (fread(data, 1, bytes, in) != bytes || fread(pad, 1, padded - bytes, in) != padded - bytes) {
            return fail(4, "truncated record data", r);
        }
        uint8_t *before = exact(bytes);
        memcpy(before, data, bytes);
        int32_t nkp = ycfg ? UP_YUNET_KPS : cfg->num_keypoints > 0 ? 2 * cfg->num_keypoints : 0;
        int labels = !ycfg && cfg->num_labels > 0;
        int32_t rows = ycfg ? ycfg->max_detections : cfg->max_detections * (labels ? cfg->num_labels : 1);
        int32_t capacity = cap < 0 ? rows : cap;
        size_t scratch_bytes = scr >= 0 ? (size_t)scr : ycfg ? up_yunet_scratch_size(ycfg) : up_scratch_size(cfg);
        int32_t *boxes = exact((size_t)capacity * 16u);
        int32_t *scores = exact((size_t)capacity * 4u);
        int32_t *anchors = exact((size_t)capacity * 4u);
        /* Only for configs that have them: NULL otherwise, so a stray write faults. */
        int32_t *keypoints = nkp > 0 ? exact((size_t)capacity * 4u * (size_t)nkp) : NULL;
        int32_t *label_buf = labels ? exact((size_t)capacity * 4u) : NULL;
        /* malloc's 16-byte alignment passes the core's 4-byte check. */
        void *scratch = exact(scratch_bytes);
        memset(scratch, 0xA5, scratch_bytes);
        up_output_t o = {0};
        o.boxes = boxes;
        o.scores = scores;
        o.anchors = anchors;
        o.keypoints = keypoints;
        o.labels = label_buf;
        o.capacity = capacity;
        o.count = -1;
        int32_t status;
        if (ycfg) {
            /* The 12 tensors back to back: cls, obj, bbox, kps, each for strides 8, 16, 32. */
            static const int32_t strides[UP_YUNET_LEVELS] = {8, 16, 32};
            static const size_t widths[4] = {1, 1, 4, UP_YUNET_KPS};
            up_yunet_tensors_t t;
            const void **slots[4] = {t.cls, t.obj, t.bbox, t.kps};
            const uint8_t *p = data;
            for (int kind = 0; kind < 4; kind++) {
                for (int lv = 0; lv < UP_YUNET_LEVELS; lv++) {
                    slots[kind][lv] = p;
                    size_t points = (size_t)(ycfg->pad_w / strides[lv]) * (size_t)(ycfg->pad_h / strides[lv]);
                    p += points * widths[kind] * esize;
                }
            }
            status = up_yunet_run(ycfg, &t, scratch, scratch_bytes, &o);
        } else if (kstride != 0) {
            status = up_run_keypoints(cfg, data + (size_t)soff * esize, sstride, data + (size_t)boff * esize, bstride,
                                      data + (size_t)koff * esize, kstride, scratch, scratch_bytes, &o);
        } else {
            status = up_run(cfg, data + (size_t)soff * esize, sstride, data + (size_t)boff * esize, bstride, scratch,
                            scratch_bytes, &o);
        }
        if (memcmp(before, data, bytes) != 0) {
            return fail(7, "the run modified its const input", r);
        }
        int32_t k = status == UP_OK ? o.count : 0;
        if (k < 0 || k > capacity) {
            return fail(4, "count outside [0, capacity]", r);
        }
        put_i32(out, status);
        put_i32(out, k);
        put_i32(out, nkp / 2);
        put_i32(out, labels);
        for (int32_t i = 0; i < 4 * k; i++) {
            put_i32(out, boxes[i]);
        }
        for (int32_t i = 0; i < k; i++) {
            put_i32(out, scores[i]);
        }
        for (int32_t i = 0; i < k; i++) {
            put_i32(out, anchors[i]);
        }
        for (int32_t i = 0; i < k * nkp; i++) {
            put_i32(out, keypoints[i]);
        }
        for (int32_t i = 0; labels && i < k; i++) {
            put_i32(out, label_buf[i]);
        }
        free(data);
        free(before);
        free(boxes);
        free(scores);
        free(anchors);
        free(keypoints);
        free(label_buf);
        free(scratch);
    }
    if (fgetc(in) != EOF) {
        return fail(4, "trailing bytes after the last record", n);
    }
    fclose(in);
    return fclose(out) == 0 ? 0 : 3;
}
