/*
 * Internal interface between the box-set NMS files (up_boxes.c: checks, sort, hard NMS; up_boxes_merge.c: soft,
 * blending and weighted kinds). Not part of the public API.
 */
#ifndef UP_BOXES_INTERNAL_H
#define UP_BOXES_INTERNAL_H

#include "up_boxes.h"
#include "up_internal.h"

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

#endif /* UP_BOXES_INTERNAL_H */
