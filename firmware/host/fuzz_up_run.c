/*
 * libFuzzer target for the core (build with clang -fsanitize=fuzzer,address,undefined).
 *
 * The first 32 bytes choose a config, strides, capacity and scratch size
 * (valid and invalid alike: up_check_config / up_run must turn every bad one
 * into a status); tables come from a generator seeded by those bytes, mixed
 * with extreme values; the remaining bytes fill the input tensor. Every buffer
 * is its own exact-size heap block, so ASan sees any access past it.
 *
 * Beyond "no crash, no undefined behaviour": a run with good arguments
 * returns UP_OK, a bad capacity / scratch / stride returns its own status, and
 * a successful run gives count in [0, max_detections], anchors unique and in
 * [0, N), corners within [-4, 4] (or [0, 1] with clip), and for int32 inputs
 * scores best first.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ultrapost.h"

#define MAX_ANCHORS 600

static uint32_t rng_next(uint32_t *s)
{
    /* xorshift32: deterministic per input, no libc state. */
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x ? x : 0x9E3779B9u;
    return *s;
}

/* Mostly plausible values, sometimes the extremes. */
static int32_t table_value(uint32_t *s, int32_t lo, int32_t hi)
{
    uint32_t r = rng_next(s);
    switch (r & 15u) {
    case 0:
        return INT32_MIN;
    case 1:
        return INT32_MAX;
    case 2:
        return 0;
    default:
        return lo + (int32_t)(rng_next(s) % (uint32_t)((int64_t)hi - lo + 1));
    }
}

static uint32_t take(const uint8_t *d, size_t n, size_t *pos, int bytes)
{
    uint32_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v |= (uint32_t)(*pos < n ? d[*pos] : 0u) << (8 * i);
        (*pos)++;
    }
    return v;
}

static int32_t *table(uint32_t *s, size_t count, int32_t lo, int32_t hi)
{
    int32_t *t = malloc(count * sizeof(int32_t));
    if (!t) {
        abort();
    }
    for (size_t i = 0; i < count; i++) {
        t[i] = table_value(s, lo, hi);
    }
    return t;
}

/* Rows of a tensor as one exact-size block, filled from the fuzz bytes (cycled) or the generator. */
static uint8_t *tensor(size_t bytes, const uint8_t *d, size_t n, uint32_t *s)
{
    uint8_t *t = malloc(bytes ? bytes : 1u);
    if (!t) {
        abort();
    }
    for (size_t i = 0; i < bytes; i++) {
        t[i] = n ? d[i % n] : (uint8_t)rng_next(s);
    }
    return t;
}

static void run_checked(const up_config_t *cfg, const uint8_t *rest, size_t rest_n, uint32_t *s,
                        int32_t score_stride, int32_t box_stride, int32_t capacity, size_t scratch_bytes)
{
    size_t esize = cfg->input_kind == UP_INPUT_S8 ? 1u : 4u;
    size_t n = (size_t)cfg->num_anchors;
    /* Exactly the rows the core may read: (n - 1) strides plus one row. */
    size_t score_elems = (n - 1u) * (size_t)(score_stride > 0 ? score_stride : 0) + (size_t)cfg->num_classes;
    size_t box_elems = (n - 1u) * (size_t)(box_stride > 0 ? box_stride : 0) + 4u;
    uint8_t *scores = tensor(score_elems * esize, rest, rest_n, s);
    uint8_t *boxes = tensor(box_elems * esize, rest, rest_n, s);
    if (capacity < 0) {
        capacity = 0;
    }
    int32_t *ob = malloc((size_t)capacity * 16u + 1u);
    int32_t *os = malloc((size_t)capacity * 4u + 1u);
    int32_t *oa = malloc((size_t)capacity * 4u + 1u);
    void *scratch = malloc(scratch_bytes ? scratch_bytes : 1u);
    if (!ob || !os || !oa || !scratch) {
        abort();
    }
    up_output_t out = {0};
    out.boxes = ob;
    out.scores = os;
    out.anchors = oa;
    out.capacity = capacity;
    out.count = -1;
    int32_t status = up_run(cfg, scores, score_stride, boxes, box_stride, scratch, scratch_bytes, &out);

    int bad_cap = capacity < cfg->max_detections;
    int bad_scratch = scratch_bytes < up_scratch_size(cfg);
    int bad_stride = score_stride < cfg->num_classes || box_stride < 4;
    if (!bad_cap && !bad_scratch && !bad_stride) {
        if (status != UP_OK) {
            abort();
        }
    } else if (!((bad_cap && status == UP_ERR_OUTPUT) || (bad_scratch && status == UP_ERR_SCRATCH) ||
                 (bad_stride && status == UP_ERR_STRIDE))) {
        abort(); /* a bad argument must come back as its own status */
    }
    if (status == UP_OK) {
        if (out.count < 0 || out.count > cfg->max_detections) {
            abort();
        }
        int32_t lo = cfg->clip ? 0 : -UP_BOX_LIMIT;
        int32_t hi = cfg->clip ? UP_ONE_BOX : UP_BOX_LIMIT;
        for (int32_t i = 0; i < out.count; i++) {
            if (oa[i] < 0 || oa[i] >= cfg->num_anchors) {
                abort();
            }
            for (int32_t j = 0; j < i; j++) {
                if (oa[j] == oa[i]) {
                    abort(); /* an anchor is kept at most once */
                }
            }
            for (int k = 0; k < 4; k++) {
                if (ob[4 * i + k] < lo || ob[4 * i + k] > hi) {
                    abort();
                }
            }
            /* I32 scores are the key (PROB) or a monotone sigmoid of it (LOGIT2): kept best first. With S8 the
             * score comes from a table this target fills at random, so no order follows. */
            if (cfg->input_kind == UP_INPUT_I32 && i > 0 && os[i] > os[i - 1]) {
                abort();
            }
        }
    }
    free(scores);
    free(boxes);
    free(ob);
    free(os);
    free(oa);
    free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    up_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    uint32_t n = 1u + take(data, size, &pos, 2) % MAX_ANCHORS;
    uint32_t flags = take(data, size, &pos, 1);
    uint32_t seed = take(data, size, &pos, 4) | 1u;
    cfg.num_anchors = (int32_t)n;
    cfg.num_classes = 1 + (int32_t)(flags & 3u);             /* 1 is invalid */
    cfg.class_index = (int32_t)((flags >> 2) & 3u);          /* may exceed num_classes */
    cfg.input_kind = (uint8_t)((flags >> 4) & 1u);           /* S8 or I32 */
    cfg.score_kind = (uint8_t)((flags >> 5) & 1u);
    cfg.box_kind = (uint8_t)((flags >> 6) & 1u);
    cfg.clip = (flags >> 7) & 1u;
    cfg.nms_kind = (uint8_t)(take(data, size, &pos, 1) % 3u == 2u); /* 1 is invalid */
    cfg.score_bound = (int32_t)take(data, size, &pos, 4);
    cfg.candidate_limit = (int32_t)(take(data, size, &pos, 2) % (n + 2u)); /* 0 and n+1 invalid */
    cfg.max_detections = (int32_t)(take(data, size, &pos, 2) % (n + 2u));
    cfg.iou_q16 = (int32_t)(take(data, size, &pos, 3) % (1u << 17)) - 1;   /* -1 and >= 2^16 invalid */
    cfg.iou_eps_q40 = (int64_t)(take(data, size, &pos, 2) % 4096u) << 16;
    cfg.var_center_q30 = (int32_t)take(data, size, &pos, 4) % ((1 << 30) + 2);
    cfg.var_size_q30 = (int32_t)take(data, size, &pos, 4) % ((1 << 30) + 2);
    uint32_t strides = take(data, size, &pos, 1);
    int32_t score_stride = cfg.num_classes + (int32_t)(strides & 3u) - 1; /* may be too small */
    int32_t box_stride = 4 + (int32_t)((strides >> 2) & 3u) - 1;
    int32_t cap_delta = (int32_t)((strides >> 4) & 3u) - 1;               /* capacity - max_detections */
    int32_t scratch_short = (strides >> 6) == 3u;                          /* scratch 4 bytes short */

    uint32_t s = seed;
    int32_t *priors = table(&s, 4u * n, 0, 1 << 20);
    int32_t *score_lut = table(&s, cfg.score_kind == UP_SCORE_LOGIT2 ? 511u : 256u, 0, 1 << 30);
    int32_t *center_lut = table(&s, 256u, -(1 << 22), 1 << 22);
    int32_t *size_lut = table(&s, 256u, 0, 1 << 24);
    int32_t *box_lut = table(&s, 256u, -(1 << 21), 1 << 21);
    cfg.priors = priors;
    cfg.score_lut = score_lut;
    cfg.center_lut = center_lut;
    cfg.size_lut = size_lut;
    cfg.box_lut = box_lut;

    int32_t status = up_check_config(&cfg);
    size_t need = up_scratch_size(&cfg);
    if ((status == UP_OK) != (need > 0)) {
        abort(); /* scratch size is 0 exactly for invalid configs */
    }
    if (status == UP_OK) {
        run_checked(&cfg, data + pos, pos < size ? size - pos : 0, &s, score_stride, box_stride,
                    cfg.max_detections + cap_delta, scratch_short ? need - 4u : need);
    }
    free(priors);
    free(score_lut);
    free(center_lut);
    free(size_lut);
    free(box_lut);
    return 0;
}
