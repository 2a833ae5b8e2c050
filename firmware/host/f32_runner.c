/*
 * Host driver of the float32 entry point (up_run_f32) outside Python: the tests build it with
 * UP_HOST_NO_SIMD to run the portable host code -- what hosts without AVX2 use -- against the golden model,
 * and can build it under the sanitizers.
 *
 * The config comes from a generated header (cfg.h, prefix "t") whose input_kind is UP_INPUT_F32.
 * usage: f32_runner SCORES BOXES OUTPUTS CLASSES BOX_STRIDE RUNS
 *   SCORES, BOXES: float32 rows [N][CLASSES] and [N][BOX_STRIDE] (box values, then 2P keypoint values), read
 *   once and run RUNS times (every run must give the same output). OUTPUTS: int32 status, count, then boxes
 *   [count][4], scores, anchors, keypoints [count][2P] and labels when the config has them.
 * exit: 0 ok (whatever the status), 2 usage, 3 I/O, 5 runs differ.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "up_host.h"

static float *read_floats(const char *path, size_t n)
{
    float *p = malloc(n * sizeof(float) + 1);
    FILE *f = fopen(path, "rb");
    if (!p || !f || fread(p, sizeof(float), n, f) != n) {
        if (f) {
            fclose(f);
        }
        free(p);
        return NULL;
    }
    fclose(f);
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: f32_runner SCORES BOXES OUTPUTS CLASSES BOX_STRIDE RUNS\n");
        return 2;
    }
    const up_config_t *cfg = &t_config;
    int32_t n = cfg->num_anchors;
    int32_t classes = atoi(argv[4]);
    int32_t box_stride = atoi(argv[5]);
    int runs = atoi(argv[6]);
    int32_t nkp = 2 * cfg->num_keypoints;
    int32_t rows = cfg->max_detections * (cfg->num_labels > 0 ? cfg->num_labels : 1);
    float *scores = read_floats(argv[1], (size_t)n * (size_t)classes);
    float *boxes = read_floats(argv[2], (size_t)n * (size_t)box_stride);
    size_t scratch_size = up_scratch_size_f32(cfg);
    void *scratch = malloc(scratch_size + 8);
    /* two output sets, zeroed alike so that the second run's bytes compare with the first's */
    int32_t *flat = calloc(2u * (size_t)rows * (size_t)(6 + nkp + 1) + 2u, sizeof(int32_t));
    if (!scores || !boxes || !scratch || !flat || runs < 1) {
        return 3;
    }
    size_t per = (size_t)rows * (size_t)(6 + nkp + 1);
    int32_t status = 0;
    int32_t count = 0;
    int code = 0;
    for (int r = 0; r < runs && !code; r++) {
        int32_t *o = flat + (r ? per : 0);
        up_output_t out;
        out.boxes = o;
        out.scores = o + 4 * rows;
        out.anchors = o + 5 * rows;
        out.keypoints = nkp ? o + 6 * rows : NULL;
        out.labels = cfg->num_labels > 0 ? o + (6 + nkp) * rows : NULL;
        out.capacity = rows;
        out.count = 0;
        status = up_run_f32(cfg, scores, classes, boxes, box_stride, scratch, scratch_size, &out);
        count = out.count;
        if (r && memcmp(flat, flat + per, per * sizeof(int32_t)) != 0) {
            code = 5;
        }
    }
    FILE *f = code ? NULL : fopen(argv[3], "wb");
    if (!f) {
        code = code ? code : 3;
    } else {
        fwrite(&status, 4, 1, f);
        fwrite(&count, 4, 1, f);
        fwrite(flat, 4, (size_t)count * 4u, f);
        fwrite(flat + 4 * rows, 4, (size_t)count, f);
        fwrite(flat + 5 * rows, 4, (size_t)count, f);
        if (nkp) {
            fwrite(flat + 6 * rows, 4, (size_t)count * (size_t)nkp, f);
        }
        if (cfg->num_labels > 0) {
            fwrite(flat + (6 + nkp) * rows, 4, (size_t)count, f);
        }
        fclose(f);
    }
    free(flat);
    free(scratch);
    free(boxes);
    free(scores);
    return code;
}
