/*
 * Differential libFuzzer target: the host's float32 path (up_run_f32 /
 * up_run_f32_keypoints, with its AVX2 scan, decode and NMS where the CPU has
 * them) against the portable integer path (up_run_keypoints on an INPUT_I32
 * config) on the same values converted to integers with up_f32_to_fixed,
 * element by element, as up_host.h documents. Build with
 * clang -fsanitize=fuzzer,address,undefined and the core plus the host files.
 *
 * The first bytes choose an accepted config (every score, box and NMS kind,
 * clip, pads, logit clip, soft-NMS parameters, keypoints, labels) and its
 * tables within the ranges ultrapost.h documents (prior sizes >= 0); the rest
 * choose each float: plausible values, values on the score bounds, huge,
 * tiny, signed zeros, and now and then NaN or Inf. Three runs must agree bit
 * for bit (status, count, boxes, scores, anchors, keypoints, labels):
 *   float32 rows             (up_run_f32_keypoints, up_scratch_size_f32)
 *   converted int32 rows     (up_host_run_keypoints, up_host_scratch_size: the host's sort and blocks of kept boxes)
 *   converted int32 rows     (up_run_keypoints, up_scratch_size: exactly the firmware's code path)
 * except that a NaN or Inf makes the float32 run return UP_ERR_NONFINITE, and a passing float32 probability
 * above 1 or a logit, box or keypoint value beyond +-1024 UP_ERR_RANGE (the int32 rows hold them clamped). The
 * float32 run decides its score test on the floats (up_host.h): its probability and single-logit bounds are
 * float32 keys, chosen to pass exactly the floats whose conversion passes the int32 run's Q30 or Q20 bound; two
 * logits are placed on the Q20 grid (where the real difference is the difference of the converted values) and
 * the words of the exact two-logit test put its threshold just above the Q20 bound. A candidate's corner or
 * keypoint beyond +-4 (no clip) or its saturated box size is UP_ERR_RANGE in every run.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ultrapost.h"
#include "up_host.h"

#ifndef MAX_ANCHORS /* -DMAX_ANCHORS=48: smaller configs, many more executions per second */
#define MAX_ANCHORS 400
#endif

typedef struct {
    const uint8_t *d;
    size_t n, pos;
    uint32_t rng;
} bytes_t;

static uint32_t next(bytes_t *b, int nbytes)
{
    uint32_t v = 0;
    for (int i = 0; i < nbytes; i++) {
        uint32_t byte;
        if (b->pos < b->n) {
            byte = b->d[b->pos++];
        } else { /* past the input: a generator seeded by it (xorshift32) */
            uint32_t x = b->rng;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b->rng = x ? x : 0x9E3779B9u;
            byte = b->rng & 0xFFu;
        }
        v |= byte << (8 * i);
    }
    return v;
}

static void *block(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1u);
    if (!p) {
        abort();
    }
    return p;
}

/* A float of one of the kinds the core sees; `unit` is the typical magnitude, `edge` a value on a decision edge.
 * Values beyond +-1024 (a float32 run's UP_ERR_RANGE) only with allow_huge, so that most inputs run through. */
static float pick_float(bytes_t *b, float unit, float edge, int allow_nonfinite, int allow_huge)
{
    uint32_t r = next(b, 1);
    uint32_t m = next(b, 2);
    float u = (float)m / 65535.0f; /* [0, 1] */
    switch (r & 15u) {
    case 0:
        return edge;
    case 1:
        return nextafterf(edge, INFINITY);
    case 2:
        return nextafterf(edge, -INFINITY);
    case 3:
        return (r & 16u) ? 0.0f : -0.0f;
    case 4:
        u *= allow_huge ? 3.0e9f : 1024.0f; /* beyond the Q20 range, or up to its end */
        return (r & 16u) ? u : -u;
    case 5:
        return (r & 16u) ? 1.0e-40f : -1.0e-40f;     /* subnormal */
    case 6:
        if (allow_nonfinite && (r & 0x70u) == 0u) {
            return (r & 0x80u) ? NAN : ((r & 16u) ? INFINITY : -INFINITY);
        }
        return unit * (2.0f * u - 1.0f) * 100.0f;
    case 7: { /* any bit pattern that is finite */
        uint32_t bits = next(b, 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        return isfinite(f) && (allow_huge || fabsf(f) <= 1024.0f) ? f : 0.5f;
    }
    default:
        return unit * (2.0f * u - 1.0f);
    }
}

/* The F32 PROB bound (the key of the largest float32 failing) passing exactly the floats p whose conversion
 * round(p * 2^30), clamped to [0, 2^30], exceeds the Q30 bound bq: p >= the smallest float >= (bq + 0.5) / 2^30,
 * or every float for bq < 0. Also that smallest passing float, in *thr. */
static int32_t f32_bound_of(int32_t bq, float *thr)
{
    if (bq < 0) {
        *thr = -FLT_MAX;
        return -0x7f7fffff - 1;
    }
    double t = ((double)bq + 0.5) / 1073741824.0;
    float f = (float)t;
    if ((double)f < t) {
        f = nextafterf(f, INFINITY);
    }
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    *thr = f;
    return (int32_t)bits - 1;
}

/* The key of the largest float32 below v (ultrapost.h: order-preserving keys). */
static int32_t key_below(double v)
{
    float f = (float)v;
    if ((double)f >= v) {
        f = nextafterf(f, -INFINITY);
    }
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits >> 31 ? -(int32_t)(bits & 0x7fffffffu) : (int32_t)bits;
}

/* The F32 LOGIT1 bound passing exactly the floats x whose conversion round(x * 2^20), clamped to +-clip (clip
 * > 0), exceeds the Q20 bound bl: x >= (bl + 0.5) / 2^20 when -clip <= bl < clip, else none or every float. */
static int32_t f32_logit_bound_of(int32_t bl, int32_t clip)
{
    if (clip > 0 && bl >= clip) {
        return 0x7f7fffff; /* FLT_MAX's key: no finite float passes */
    }
    if (clip > 0 && bl < -clip) {
        return -0x7f7fffff - 1;
    }
    return key_below(((double)bl + 0.5) / 1048576.0);
}

/* The words of the exact two-logit test (up_host.h) for the threshold T = (F + 1/2) / 2^149 with F = bl * 2^129:
 * rows on the Q20 grid pass exactly when l1 - l0 > bl. T = bl / 2^20 + 2^-150: for bl != 0 the doubles around it
 * are bl / 2^20 and the next one (at least 2^-72 above); for bl = 0, T = 2^-150 is a double itself. */
static void f32_logit2_words_of(int32_t bl, int32_t words[UP_F32_LOGIT2_WORDS])
{
    double lo = bl ? (double)bl / 1048576.0 : ldexp(1.0, -150);
    double hi = bl ? nextafter(lo, INFINITY) : lo;
    uint64_t u;
    memcpy(&u, &lo, sizeof u);
    words[0] = (int32_t)(uint32_t)u;
    words[1] = (int32_t)(uint32_t)(u >> 32);
    memcpy(&u, &hi, sizeof u);
    words[2] = (int32_t)(uint32_t)u;
    words[3] = (int32_t)(uint32_t)(u >> 32);
    /* bl * 2^129, 192-bit two's complement: limb 4 (bits 128..159) holds bl * 2, the limbs above its sign */
    uint64_t mag = (uint64_t)((int64_t)bl * 2);
    words[4] = words[5] = words[6] = words[7] = 0;
    words[8] = (int32_t)(uint32_t)mag;
    words[9] = (int32_t)(uint32_t)(mag >> 32);
}

/* Q20-grid float nearest x (within +-1024): its conversion is exact, so two such logits differ by exactly the
 * difference of their converted values. Other values (NaN, Inf, beyond +-1024) are kept: they are errors. */
static float on_q20_grid(float x)
{
    if (!(fabsf(x) <= 1024.0f)) {
        return x;
    }
    return (float)(floor((double)x * 1048576.0 + 0.5) / 1048576.0);
}

/* The boundary's conversion of any float, as the host run would make it. */
static int32_t fixed_of(float x, int q, int32_t lo, int32_t hi)
{
    return up_f32_to_fixed(x, q, lo, hi); /* NaN gives 0, Inf the clamp: defined for every float */
}

static int same(const up_output_t *x, const up_output_t *y, int32_t nkp, int labels)
{
    size_t k = (size_t)x->count;
    return x->count == y->count && !memcmp(x->boxes, y->boxes, 16u * k) && !memcmp(x->scores, y->scores, 4u * k) &&
           !memcmp(x->anchors, y->anchors, 4u * k) &&
           (nkp == 0 || !memcmp(x->keypoints, y->keypoints, 4u * k * (size_t)nkp)) &&
           (!labels || !memcmp(x->labels, y->labels, 4u * k));
}

typedef struct {
    int32_t *buf;
    up_output_t out;
} outputs_t;

static void outputs_make(outputs_t *o, int32_t capacity, int32_t nkp)
{
    size_t cap = (size_t)capacity;
    o->buf = block(cap * (7u + (size_t)nkp) * 4u);
    memset(&o->out, 0, sizeof o->out);
    o->out.boxes = o->buf;
    o->out.scores = o->buf + 4u * cap;
    o->out.anchors = o->buf + 5u * cap;
    o->out.labels = o->buf + 6u * cap;
    o->out.keypoints = nkp ? o->buf + 7u * cap : NULL;
    o->out.capacity = capacity;
    o->out.count = -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bytes_t b = {data, size, 0u, 0x2545F491u ^ (uint32_t)size};
    for (size_t i = 0; i < size && i < 16u; i++) {
        b.rng = b.rng * 31u + data[i] + 1u;
    }
    up_config_t cf;
    memset(&cf, 0, sizeof cf);
    int32_t n = 1 + (int32_t)(next(&b, 2) % MAX_ANCHORS);
    uint32_t kinds = next(&b, 2);
    cf.num_anchors = n;
    cf.input_kind = UP_INPUT_F32;
    cf.score_kind = (uint8_t)(kinds % 3u);
    cf.box_kind = (uint8_t)((kinds >> 2) % 3u);
    cf.nms_kind = (uint8_t)((kinds >> 4) % 5u);
    cf.clip = (kinds >> 7) & 1u;
    cf.num_classes = cf.score_kind == UP_SCORE_LOGIT2 ? 2 : 1 + (int32_t)((kinds >> 8) & 3u);
    cf.class_index = cf.score_kind == UP_SCORE_LOGIT2 ? 1 : (int32_t)(next(&b, 1) % (uint32_t)cf.num_classes);
    int labels = (kinds >> 10) & 1u;
    if (labels) {
        int32_t room = cf.num_classes - cf.class_index;
        cf.num_labels = cf.score_kind == UP_SCORE_LOGIT2 ? 1 : 1 + (int32_t)(next(&b, 1) % (uint32_t)room);
    }
    cf.num_keypoints = cf.box_kind == UP_BOX_CORNERS ? 0 : (int32_t)(next(&b, 1) % (UP_MAX_KEYPOINTS + 1u));
    int merge = cf.nms_kind == UP_NMS_BLEND || cf.nms_kind == UP_NMS_WEIGHTED;
    cf.candidate_limit = 1 + (int32_t)(next(&b, 2) % (uint32_t)n);
    if (merge && cf.candidate_limit > UP_MAX_MERGE_CANDIDATES) {
        cf.candidate_limit = UP_MAX_MERGE_CANDIDATES;
    }
    cf.max_detections = 1 + (int32_t)(next(&b, 2) % (uint32_t)cf.candidate_limit);
    cf.iou_q16 = (int32_t)(next(&b, 2) % 65536u);
    cf.iou_eps_q40 = (int64_t)(next(&b, 2) % 4096u) << 16;
    cf.var_center_q30 = 1 + (int32_t)(next(&b, 4) % (uint32_t)(1 << 30));
    cf.var_size_q30 = 1 + (int32_t)(next(&b, 4) % (uint32_t)(1 << 30));
    uint32_t ext = next(&b, 1);
    cf.pad_x_q20 = (ext & 1u) ? (int32_t)(next(&b, 3) % (UP_ONE_BOX + 1u)) : 0;
    cf.pad_y_q20 = (ext & 2u) ? (int32_t)(next(&b, 3) % (UP_ONE_BOX + 1u)) : 0;
    cf.logit_clip_q20 = (ext & 4u) ? (int32_t)(next(&b, 4) % (1000u << 20)) : 0;
    if (cf.nms_kind == UP_NMS_SOFT_LINEAR || cf.nms_kind == UP_NMS_SOFT_GAUSSIAN) {
        cf.soft_min_q30 = (int32_t)(next(&b, 4) % (UP_ONE_SCORE + 1u));
    }
    if (cf.nms_kind == UP_NMS_SOFT_GAUSSIAN) {
        cf.soft_inv_sigma_q16 = 1 + (int32_t)(next(&b, 4) % UP_MAX_INV_SIGMA_Q16);
    }
    /* Score bounds: within the key's range, often on the edge of a plausible threshold. */
    int prob = cf.score_kind == UP_SCORE_PROB;
    int32_t bounds[UP_MAX_KEYPOINTS + 4];
    int32_t nb = labels ? cf.num_labels : 1;
    for (int32_t i = 0; i < nb; i++) {
        uint32_t r = next(&b, 4);
        bounds[i] = prob ? (int32_t)(r % (UP_ONE_SCORE + 1u)) - 1 : (int32_t)(r % (40u << 20)) - (20 << 20);
    }
    int32_t fbounds[UP_MAX_KEYPOINTS + 4]; /* the float32 run's: keys of float32 for probabilities */
    float thr[UP_MAX_KEYPOINTS + 4];
    for (int32_t i = 0; i < nb; i++) {
        fbounds[i] = prob ? f32_bound_of(bounds[i], &thr[i])
                     : cf.score_kind == UP_SCORE_LOGIT1 ? f32_logit_bound_of(bounds[i], cf.logit_clip_q20)
                                                         : bounds[i];
    }
    cf.score_bound = fbounds[0];
    cf.label_bounds = labels ? fbounds : NULL;
    int32_t logit2_words[UP_F32_LOGIT2_WORDS];
    if (cf.score_kind == UP_SCORE_LOGIT2) {
        f32_logit2_words_of(bounds[0], logit2_words);
        cf.score_lut = logit2_words;
    }
    /* Priors: centers anywhere in Q20 range of a box, sizes >= 0 (ultrapost.h). */
    int32_t *priors = NULL;
    if (cf.box_kind != UP_BOX_CORNERS) {
        priors = block((size_t)n * 16u);
        for (int32_t a = 0; a < n; a++) {
            for (int k = 0; k < 4; k++) {
                uint32_t r = next(&b, 4);
                priors[4 * a + k] = k < 2 ? (int32_t)(r % (8u << 20)) - (4 << 20)
                                          : (r & 7u) == 0 ? (int32_t)(r >> 1) : (int32_t)(r % (2u << 20));
#ifdef UP_FUZZ_NEGATIVE_PRIOR_SIZES /* outside the contract: the test that this target sees a divergence */
                if (k >= 2 && (r & 0x10u)) {
                    priors[4 * a + k] = -priors[4 * a + k];
                }
#endif
            }
        }
    }
    cf.priors = priors;

    up_config_t ci = cf; /* the same config for int32 rows, with the Q30 or Q20 bounds */
    ci.input_kind = UP_INPUT_I32;
    ci.score_lut = NULL;
    ci.score_bound = bounds[0];
    ci.label_bounds = labels ? bounds : NULL;
    if (up_check_config(&cf) != UP_OK || up_check_config(&ci) != UP_OK) {
        abort(); /* every config built above is within the documented ranges */
    }

    /* Tensors: scores [n][C], boxes [n][4 + 2P] (keypoints in the box rows or a tensor of their own). */
    int32_t nc = cf.num_classes, nkp = 2 * cf.num_keypoints;
    uint32_t layout = next(&b, 1);
    int separate = nkp > 0 && (layout & 1u);
    int allow_nonfinite = (layout & 6u) == 6u;
    int allow_huge = (layout & 0xc0u) == 0xc0u;
    int32_t ss = nc + (int32_t)((layout >> 3) & 1u);
    int32_t bs = 4 + (separate ? 0 : nkp) + (int32_t)((layout >> 4) & 1u);
    int32_t ks = nkp + (int32_t)((layout >> 5) & 1u);
    size_t ns = (size_t)n * (size_t)ss, nbx = (size_t)n * (size_t)bs, nk = separate ? (size_t)n * (size_t)ks : 0u;
    float *fs = block(ns * 4u), *fb = block(nbx * 4u), *fk = block(nk * 4u);
    int32_t *is = block(ns * 4u), *ib = block(nbx * 4u), *ik = block(nk * 4u);
    /* edges: the float whose conversion lands on (or next to) the first bound */
    float score_edge = prob ? (float)ldexp((double)bounds[0] + 1.0, -30) : (float)ldexp((double)bounds[0], -20);
    int nonfinite = 0;
    int beyond = 0; /* a value beyond +-1024 in the logits, boxes or keypoints: the float32 run's UP_ERR_RANGE */
    for (size_t i = 0; i < ns; i++) {
        fs[i] = pick_float(&b, prob ? 1.0f : 10.0f, score_edge, allow_nonfinite, allow_huge);
        if (cf.score_kind == UP_SCORE_LOGIT2) {
            fs[i] = on_q20_grid(fs[i]);
        }
        nonfinite |= !isfinite(fs[i]) && (int32_t)(i % (size_t)ss) < nc;
        beyond |= !prob && fabsf(fs[i]) > 1024.0f && (int32_t)(i % (size_t)ss) < nc; /* logits */
        is[i] = prob ? fixed_of(fs[i], UP_F32_PROB_Q, 0, UP_ONE_SCORE)
                     : fixed_of(fs[i], UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT);
    }
    for (size_t i = 0; i < nbx; i++) {
        fb[i] = pick_float(&b, cf.box_kind == UP_BOX_CORNERS ? 1.0f : 4.0f, 0.5f, allow_nonfinite, allow_huge);
        nonfinite |= !isfinite(fb[i]) && (int32_t)(i % (size_t)bs) < 4 + (separate ? 0 : nkp);
        beyond |= fabsf(fb[i]) > 1024.0f && (int32_t)(i % (size_t)bs) < 4 + (separate ? 0 : nkp);
        ib[i] = fixed_of(fb[i], UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT);
    }
    for (size_t i = 0; i < nk; i++) {
        fk[i] = pick_float(&b, 4.0f, 0.0f, allow_nonfinite, allow_huge);
        nonfinite |= !isfinite(fk[i]) && (int32_t)(i % (size_t)ks) < nkp;
        beyond |= fabsf(fk[i]) > 1024.0f && (int32_t)(i % (size_t)ks) < nkp;
        ik[i] = fixed_of(fk[i], UP_F32_VALUE_Q, -UP_F32_VALUE_LIMIT, UP_F32_VALUE_LIMIT);
    }

    int32_t capacity = cf.max_detections * (labels ? cf.num_labels : 1);
    size_t sf = up_scratch_size_f32(&cf), sh = up_host_scratch_size(&ci), sp = up_scratch_size(&ci);
    void *scr_f = block(sf), *scr_h = block(sh), *scr_p = block(sp);
    outputs_t of, oh, op;
    outputs_make(&of, capacity, nkp);
    outputs_make(&oh, capacity, nkp);
    outputs_make(&op, capacity, nkp);
    /* keypoints in their own tensor, or in the box rows after the 4 box values (NULL when the config has none) */
    const float *kf = nkp == 0 ? NULL : separate ? fk : fb + 4;
    const int32_t *ki = nkp == 0 ? NULL : separate ? ik : ib + 4;
    int32_t kstride = separate ? ks : bs;
    int above = 0; /* a passing probability above 1: the float32 run's UP_ERR_RANGE */
    for (int32_t a = 0; prob && a < n; a++) {
        for (int32_t l = 0; l < nb; l++) {
            float p = fs[(size_t)a * (size_t)ss + (size_t)(cf.class_index + l)];
            above |= isfinite(p) && p >= thr[l] && p > 1.0f;
        }
    }
    int32_t st_f = up_run_f32_keypoints(&cf, fs, ss, fb, bs, kf, kstride, scr_f, sf, &of.out);
    int32_t st_h = up_host_run_keypoints(&ci, is, ss, ib, bs, ki, kstride, scr_h, sh, &oh.out);
    int32_t st_p = up_run_keypoints(&ci, is, ss, ib, bs, ki, kstride, scr_p, sp, &op.out);
    /* UP_ERR_RANGE: a corner or keypoint beyond +-4 (no clip) or a saturated box size, alike in every run */
    if (st_h != st_p || (st_h != UP_OK && st_h != UP_ERR_RANGE) ||
        (st_h == UP_OK && !same(&oh.out, &op.out, nkp, labels))) {
        abort(); /* the host's blocks of kept boxes decide as the portable NMS does */
    }
    int32_t expected = nonfinite ? UP_ERR_NONFINITE : (beyond || above) ? UP_ERR_RANGE : st_h;
    if (st_f != expected || (st_f == UP_OK && !same(&of.out, &oh.out, nkp, labels))) {
        abort(); /* the float32 boundary equals converting every element first */
    }
    free(of.buf);
    free(oh.buf);
    free(op.buf);
    free(scr_f);
    free(scr_h);
    free(scr_p);
    free(fs);
    free(fb);
    free(fk);
    free(is);
    free(ib);
    free(ik);
    free(priors);
    return 0;
}
