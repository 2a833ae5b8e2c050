/*
 * The core's stages and what they share. Not part of the public API: the
 * interface for code that composes the stages into a pipeline -- up_pipeline.c
 * here, and code built on the core that runs the same stages with its own
 * (for instance a selection of its own, or float32 converted to the core's
 * integers first: every stage treats a tensor that is not UP_INPUT_S8 as int32).
 */
#ifndef UP_INTERNAL_H
#define UP_INTERNAL_H

#include "ultrapost.h"
#include "up_fixed.h"

/* Candidates in scratch: appended in ascending anchor order, a bounded heap once more than limit arrive. */
typedef struct {
    int32_t *idx;   /* scratch: candidate_limit anchor indices */
    int32_t count;
    int32_t limit;
    bool heap;      /* idx is a heap (worst at the top) rather than in anchor order */
} up_candidates_t;

/* Held candidates sorted by binary insertion up to this many, by heap sort beyond. */
#define UP_INSERTION_SORT_MAX 256

/* Where a run reads its inputs from. */
typedef struct up_source {
    const up_config_t *cfg;
    const void *scores;
    int32_t score_stride;
    const void *boxes;
    int32_t box_stride;
    const void *keypoints;   /* rows of 2P elements, or NULL */
    int32_t keypoint_stride;
    int32_t column;          /* score column of the class being selected */
    int32_t bound;           /* its score bound: pass when key > bound */
    uint32_t range;          /* non-zero once a value was out of range: the run then returns UP_ERR_RANGE */
} up_source_t;

/* LOGIT1 keys are clamped logits (MediaPipe's score clipping). */
static inline int32_t up_clip_logit(const up_config_t *cfg, int32_t v)
{
    int32_t c = cfg->logit_clip_q20;
    return c > 0 ? up_clamp32(v, -c, c) : v;
}

/* Padded width of [lo, hi], clipped at 0: an inverted box has area 0. */
static inline int32_t up_extent(int32_t lo, int32_t hi, int32_t pad)
{
    return up_max32(hi - lo + pad, 0);
}

/* Score key of one anchor (see ultrapost.h for its meaning per input kind). */
static inline int32_t up_key(const up_source_t *src, int32_t a)
{
    const up_config_t *cfg = src->cfg;
    int32_t c = src->column;
    if (cfg->input_kind == UP_INPUT_S8) {
        const int8_t *row = (const int8_t *)src->scores + (size_t)a * (size_t)src->score_stride;
        return cfg->score_kind == UP_SCORE_LOGIT2 ? (int32_t)row[c] - row[1 - c] : row[c];
    } else {
        const int32_t *row = (const int32_t *)src->scores + (size_t)a * (size_t)src->score_stride;
        if (cfg->score_kind == UP_SCORE_PROB) {
            return row[c];
        }
        return cfg->score_kind == UP_SCORE_LOGIT2 ? up_sat32((int64_t)row[c] - row[1 - c])
                                                  : up_clip_logit(cfg, row[c]);
    }
}

void up_candidates_push(const up_source_t *src, up_candidates_t *cand, int32_t anchor);
/* Sorts the held candidates best first (key descending, anchor ascending). */
void up_candidates_sort(const up_source_t *src, up_candidates_t *cand);
/* Scans every anchor of an S8 or I32 source and pushes those passing the score test. */
void up_select(const up_source_t *src, up_candidates_t *cand);

/* Q30 output score of a key. */
int32_t up_score_of_key(const up_config_t *cfg, int32_t key);
/* Reads n elements of row `anchor` of a tensor as int32 (S8 values, else int32 values). */
void up_read_row(const up_source_t *src, const void *base, int32_t stride, int32_t anchor, int32_t n,
                 int32_t *raw);
/* Reads and decodes the box of an anchor into Q20 corners (out of range: src->range, see up_decode.c). */
void up_box_of(const up_source_t *src, int32_t anchor, int32_t box[4]);
/* The boxes of the candidates from index `from` on, which hard NMS stopped before reaching: one out of range
 * sets src->range, as for every candidate (the same rule for every NMS kind). */
void up_check_boxes(const up_source_t *src, const up_candidates_t *cand, int32_t from);
/* Marks the run as out of range: src points to a run's own (non-const) source, so the write is defined. */
static inline void up_out_of_range(const up_source_t *src)
{
    ((up_source_t *)src)->range = 1u;
}
/* Reads and decodes the 2P keypoint values of an anchor (Q20), or only value k. */
void up_keypoints_of(const up_source_t *src, int32_t anchor, int32_t *kp);
int32_t up_keypoint_value(const up_source_t *src, int32_t anchor, int32_t k);
/* IoU(a, b) > t exactly, without division (up_iou.c). */
bool up_iou_exceeds(const up_config_t *cfg, const int32_t *a, const int32_t *b);
/* UP_OK when iou_q16, iou_num and iou_shift describe one threshold t in [0, 1], else UP_ERR_CONFIG. */
int32_t up_check_iou(const up_config_t *cfg);
/* inter * 2^shift > num * uni for inter >= 1, shift >= 0, in 128-bit integers made of 32-bit limbs. */
bool up_exceeds_exact(uint64_t inter, uint64_t uni, uint64_t num, int32_t shift);
/* round(n / d) half up for d > 0, n + d / 2 < 2^64, by shift-and-subtract. */
uint64_t up_udiv_round(uint64_t n, uint64_t d);
/* Writes output row k: box, score, anchor, and keypoints when the config has them. */
void up_emit(const up_source_t *src, up_output_t *out, int32_t k, int32_t anchor, const int32_t box[4],
             int32_t score);

/* NMS variants over sorted candidates into out; work: the scratch after the candidate indices. */
int32_t up_nms_hard(const up_source_t *src, const up_candidates_t *cand, up_output_t *out);
int32_t up_nms_merge(const up_source_t *src, up_candidates_t *cand, int32_t *work, up_output_t *out);
int32_t up_nms_soft(const up_source_t *src, up_candidates_t *cand, int32_t *work, up_output_t *out);

/* Scratch bytes of a checked config (up_scratch_size without the check). */
size_t up_scratch_bytes(const up_config_t *cfg);
/* Checks the per-run arguments of a checked config. */
int32_t up_check_run(const up_config_t *cfg, int32_t score_stride, int32_t box_stride,
                     int32_t keypoint_stride, size_t scratch_size, size_t scratch_needed,
                     const void *scratch, const up_output_t *out);
/* Selects, sorts and suppresses each class of src into out (a checked config and run). */
int32_t up_run_source(up_source_t *src, void *scratch, up_output_t *out);

/* --- box-set NMS (up_boxes.c: checks, sort, hard NMS; up_boxes_merge.c: soft, blending, weighted) --- */
typedef struct {
    int32_t box[4];
    int32_t cls;
    int32_t next; /* next entry of the cell, -1 at the end */
    uint64_t area;
} up_grid_entry_t;

typedef struct {
    int32_t *order;   /* [N] candidates, sorted */
    int32_t *tmp;     /* [N] */
    uint64_t *ukeys;  /* [N] */
    uint64_t *utmp;   /* [N] */
    uint32_t *counts; /* [256] */
    int32_t *values;  /* [N] decayed values (soft) */
    int32_t *heads;   /* [cells] grid lists (hard): first entry of each cell, -1 when empty */
    up_grid_entry_t *ent; /* [4N] kept boxes registered in cells, copied for locality */
    int32_t *wide;    /* [N] kept boxes tested by every candidate */
    int32_t cells;
} up_boxes_scratch_t;

/* 128-bit product of two uint64 as (hi, lo), from 32-bit halves where the compiler has no 128-bit type. */
#if defined(__SIZEOF_INT128__)
__extension__ typedef unsigned __int128 up_u128;
#endif
static inline void up_mul64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
#if defined(__SIZEOF_INT128__)
    up_u128 p = (up_u128)a * b;
    *hi = (uint64_t)(p >> 64);
    *lo = (uint64_t)p;
#else
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    *lo = (p00 & 0xffffffffu) | (mid << 32);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
#endif
}

/* inter > floor(num * uni / 2^shift): IoU > t exactly (inter < 2^62, uni < 2^64, num <= 2^53). */
static inline bool up_exceeds(uint64_t inter, uint64_t uni, uint64_t num, int32_t shift)
{
    uint64_t hi;
    uint64_t lo;
    up_mul64(num, uni, &hi, &lo);
    uint64_t q;
    if (shift >= 128) {
        q = 0;
    } else if (shift >= 64) {
        q = hi >> (shift - 64);
    } else if (shift == 0) {
        if (hi != 0) {
            return false;
        }
        q = lo;
    } else {
        if ((hi >> shift) != 0) {
            return false; /* the bound is at least 2^64 > inter */
        }
        q = (hi << (64 - shift)) | (lo >> shift);
    }
    return inter > q;
}

static inline uint64_t up_side(int32_t lo, int32_t hi)
{
    return hi > lo ? (uint64_t)((int64_t)hi - lo) : 0u;
}

static inline uint64_t up_area(const int32_t *b)
{
    return up_side(b[0], b[2]) * up_side(b[1], b[3]);
}

/* Intersection of a and b (0 when they do not overlap on an axis). */
static inline uint64_t up_inter(const int32_t *a, const int32_t *b)
{
    int32_t x1 = up_max32(a[0], b[0]);
    int32_t x2 = up_min32(a[2], b[2]);
    if (x2 <= x1) {
        return 0;
    }
    int32_t y1 = up_max32(a[1], b[1]);
    int32_t y2 = up_min32(a[3], b[3]);
    if (y2 <= y1) {
        return 0;
    }
    return up_side(x1, x2) * up_side(y1, y2);
}

static inline bool up_same_class(const up_boxes_input_t *in, int32_t i, int32_t j)
{
    return !in->classes || in->classes[i] == in->classes[j];
}
/* IoU(a, b) > t_k (k: the step of an eta schedule; 0 otherwise). */
bool up_boxes_exceeds(const up_boxes_config_t *cfg, const int32_t *a, const int32_t *b, int32_t k);
/* Soft-NMS and the merging kinds over the c sorted candidates in s->order; return the outputs written. */
int32_t up_boxes_soft(const up_boxes_config_t *cfg, const up_boxes_input_t *in, up_boxes_scratch_t *s, int32_t c,
                      int32_t limit, up_boxes_output_t *out);
int32_t up_boxes_merge(const up_boxes_config_t *cfg, const up_boxes_input_t *in, up_boxes_scratch_t *s, int32_t c,
                       int32_t limit, int32_t vq, up_boxes_output_t *out);

/* Pre-processing (up_preprocess.c): what a faster driver of the same passes shares with up_pre_run.
 * Rounding of each pass, in the order the passes run (horizontal first unless v_first):
 * acc = bias + sum(v * k); value = acc >> shift. The first pass of PIL clips to 0..255 (Pillow keeps 8-bit
 * images between its passes); CV2's first pass stays exact, so its order does not change the result; the
 * second pass of every kind clips to 0..255 (clip2; up_pre_run drops a clip that cannot fire, which leaves every
 * value as it is). */
typedef struct {
    int32_t bias1, shift1;
    int32_t bias2, shift2;
    bool clip1, clip2;
} up_pre_rounding_t;

up_pre_rounding_t up_pre_rounding(uint8_t resample);
int32_t up_pre_bytes_per_pixel(uint8_t format); /* 0: not a pixel format */
int32_t up_pre_channels(uint8_t format);        /* source channels after conversion: 1 or 3 */
/* Source row r of the crop as interleaved source channels; *step = bytes between pixels. Converting formats
 * (RGB565, YUYV) write the crop's pixels to conv (RGB888, crop_width * 3 bytes); the others are read in place. */
const uint8_t *up_pre_read_row(const up_pre_config_t *cfg, const uint8_t *frame, int32_t stride, int32_t r,
                               uint8_t *conv, int32_t *step);
/* Writes output row y through the output tables: pad outside the rect; vals = the resized row
 * ([rect_width][channels]) or NULL (a pad row). */
void up_pre_write_row(const up_pre_config_t *cfg, int32_t y, const uint8_t *vals, int32_t n, void *out);

#endif /* UP_INTERNAL_H */
