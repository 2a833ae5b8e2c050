/*
 * NMS over a generic box set (see up_boxes.h): integer corners on one grid,
 * int64 score keys, optional classes; hard, blending, weighted and soft kinds.
 *
 * Hard NMS decides IoU > t exactly. With widths and heights below 2^31, the
 * intersection and the areas are below 2^62 and the union below 2^63 (uint64);
 * t = num / 2^shift with num <= 2^53, so num * union < 2^117 (a 128-bit product)
 * and, inter being an integer, inter * 2^shift > num * union is
 * inter > floor(num * union / 2^shift). No rounding anywhere.
 *
 * Speed: candidates are sorted by an LSD radix sort of their keys (stable, so
 * equal keys stay in index order), and hard NMS tests a candidate only against
 * the kept boxes registered in the cells of a uniform grid that its box covers
 * (a kept box covering more than 4 cells is tested by every candidate). The
 * grid changes which pairs are tested, never a decision: a pair whose boxes
 * share no cell has no positive intersection.
 */
#include "up_boxes.h"
#include "up_internal.h"

#define UP_GRID_REG_MAX 4 /* cells a kept box is registered in at most; wider boxes go to the wide list */

/* A kept box in a grid cell: its corners, area and class beside the link, so a cell's tests read one line. */
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

static size_t up_align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

static int32_t up_boxes_cells(int32_t n)
{
    return n < 8 ? 16 : 2 * n;
}

static bool up_boxes_grid(const up_boxes_config_t *cfg)
{
    return cfg->nms_kind == UP_NMS_HARD && !(cfg->flags & UP_BOXES_LINEAR_SCAN);
}

static int32_t up_boxes_check_config(const up_boxes_config_t *cfg)
{
    if (!cfg || !cfg->iou_num || !cfg->iou_shift) {
        return UP_ERR_NULL;
    }
    if (cfg->count < 0 || cfg->count > UP_BOXES_MAX) {
        return UP_ERR_NUM_ANCHORS;
    }
    if (cfg->nms_kind > UP_NMS_SOFT_GAUSSIAN || cfg->max_output < 0 || cfg->candidate_limit < 0 ||
        cfg->candidate_limit > cfg->count || cfg->iou_steps < 1 || cfg->iou_steps > UP_BOXES_MAX_STEPS ||
        cfg->value_q < -1100 || cfg->value_q > 62 ||
        (cfg->flags & ~3u) != 0) {
        return UP_ERR_CONFIG;
    }
    if ((cfg->nms_kind == UP_NMS_BLEND || cfg->nms_kind == UP_NMS_WEIGHTED) &&
        (cfg->candidate_limit > 0 ? cfg->candidate_limit : cfg->count) > UP_BOXES_MAX_MERGE) {
        return UP_ERR_CONFIG;
    }
    if (cfg->nms_kind == UP_NMS_SOFT_GAUSSIAN &&
        (cfg->soft_inv_sigma_q16 < 1 || cfg->soft_inv_sigma_q16 > UP_MAX_INV_SIGMA_Q16)) {
        return UP_ERR_CONFIG;
    }
    for (int32_t k = 0; k < cfg->iou_steps; k++) {
        uint64_t num = cfg->iou_num[k];
        int32_t sh = cfg->iou_shift[k];
        if (sh < 0 || sh > 1100 || num > ((uint64_t)1 << 53) || (sh < 53 && num > ((uint64_t)1 << sh))) {
            return UP_ERR_CONFIG;
        }
    }
    return UP_OK;
}

static size_t up_boxes_layout(const up_boxes_config_t *cfg, void *base, up_boxes_scratch_t *s)
{
    size_t n = (size_t)cfg->count;
    size_t off = 0;
    uint8_t *b = (uint8_t *)base;
    bool grid = up_boxes_grid(cfg);
    int32_t cells = grid ? up_boxes_cells(cfg->count) : 0;
#define UP_TAKE(field, type, k)                                        \
    do {                                                               \
        if (s) {                                                       \
            s->field = (type *)(void *)(b + off);                      \
        }                                                              \
        off = up_align8(off + sizeof(type) * (size_t)(k));             \
    } while (0)
    UP_TAKE(order, int32_t, n);
    UP_TAKE(tmp, int32_t, n);
    UP_TAKE(ukeys, uint64_t, n);
    UP_TAKE(utmp, uint64_t, n);
    UP_TAKE(counts, uint32_t, 256);
    UP_TAKE(values, int32_t, cfg->nms_kind == UP_NMS_SOFT_LINEAR || cfg->nms_kind == UP_NMS_SOFT_GAUSSIAN ? n : 0);
    UP_TAKE(heads, int32_t, (size_t)cells);
    UP_TAKE(ent, up_grid_entry_t, grid ? UP_GRID_REG_MAX * n : 0);
    UP_TAKE(wide, int32_t, grid ? n : 0);
#undef UP_TAKE
    if (s) {
        s->cells = cells;
    }
    return off + 8u; /* room to align the start */
}

size_t up_boxes_scratch_size(const up_boxes_config_t *cfg)
{
    if (up_boxes_check_config(cfg) != UP_OK) {
        return 0;
    }
    return up_boxes_layout(cfg, 0, 0);
}

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

/* IoU(a, b) > t_k; two boxes of area 0 have IoU 1 under UP_BOXES_ZERO_AREA_OVERLAP, else 0. */
static bool up_boxes_exceeds(const up_boxes_config_t *cfg, const int32_t *a, const int32_t *b, int32_t k)
{
    uint64_t inter = up_inter(a, b);
    if (inter == 0) {
        if ((cfg->flags & UP_BOXES_ZERO_AREA_OVERLAP) && up_area(a) == 0 && up_area(b) == 0) {
            return up_exceeds(1, 1, cfg->iou_num[k], cfg->iou_shift[k]);
        }
        return false;
    }
    uint64_t uni = up_area(a) + up_area(b) - inter;
    return up_exceeds(inter, uni, cfg->iou_num[k], cfg->iou_shift[k]);
}

static inline bool up_same_class(const up_boxes_input_t *in, int32_t i, int32_t j)
{
    return !in->classes || in->classes[i] == in->classes[j];
}

/*
 * Candidates (key > key_bound) into s->order, best first: key descending, index ascending. LSD radix sort of
 * d = ~(key as an order-preserving uint64), ascending, one byte per pass, skipping bytes that all candidates
 * share. Returns the number of candidates.
 */
static int32_t up_boxes_sort(const up_boxes_config_t *cfg, const up_boxes_input_t *in, up_boxes_scratch_t *s)
{
    int32_t c = 0;
    uint64_t all_or = 0;
    uint64_t all_and = ~(uint64_t)0;
    for (int32_t i = 0; i < cfg->count; i++) {
        int64_t key = in->keys[i];
        if (key > cfg->key_bound) {
            uint64_t d = ~((uint64_t)key ^ ((uint64_t)1 << 63));
            s->order[c] = i;
            s->ukeys[c] = d;
            all_or |= d;
            all_and &= d;
            c++;
        }
    }
    uint64_t differ = all_or ^ all_and;
    int32_t *src = s->order;
    int32_t *dst = s->tmp;
    uint64_t *ksrc = s->ukeys;
    uint64_t *kdst = s->utmp;
    for (int shift = 0; shift < 64; shift += 8) {
        if (((differ >> shift) & 0xffu) == 0) {
            continue;
        }
        for (int b = 0; b < 256; b++) {
            s->counts[b] = 0;
        }
        for (int32_t i = 0; i < c; i++) {
            s->counts[(ksrc[i] >> shift) & 0xffu]++;
        }
        uint32_t sum = 0;
        for (int b = 0; b < 256; b++) {
            uint32_t t = s->counts[b];
            s->counts[b] = sum;
            sum += t;
        }
        for (int32_t i = 0; i < c; i++) {
            uint32_t p = s->counts[(ksrc[i] >> shift) & 0xffu]++;
            dst[p] = src[i];
            kdst[p] = ksrc[i];
        }
        int32_t *t = src;
        src = dst;
        dst = t;
        uint64_t *kt = ksrc;
        ksrc = kdst;
        kdst = kt;
    }
    if (src != s->order) {
        for (int32_t i = 0; i < c; i++) {
            s->order[i] = src[i];
        }
    }
    return c;
}

static int32_t up_boxes_step(const up_boxes_config_t *cfg, int32_t kept)
{
    return kept < cfg->iou_steps ? kept : cfg->iou_steps - 1;
}

/* Hard NMS, every candidate against every kept box (UP_BOXES_LINEAR_SCAN, and the reference for the grid). */
static int32_t up_boxes_hard_scan(const up_boxes_config_t *cfg, const up_boxes_input_t *in, const int32_t *order,
                                  int32_t c, int32_t limit, up_boxes_output_t *out)
{
    int32_t kept = 0;
    for (int32_t i = 0; i < c && kept < limit; i++) {
        int32_t a = order[i];
        const int32_t *box = in->boxes + (size_t)a * 4u;
        int32_t k = up_boxes_step(cfg, kept);
        bool suppressed = false;
        for (int32_t j = 0; j < kept && !suppressed; j++) {
            int32_t b = out->indices[j];
            suppressed = up_same_class(in, a, b) && up_boxes_exceeds(cfg, box, in->boxes + (size_t)b * 4u, k);
        }
        if (!suppressed) {
            out->indices[kept++] = a;
        }
    }
    return kept;
}

/* Cell range [lo, hi] of a coordinate interval on the grid (origin, shift, size). */
static inline void up_cell_range(int32_t v1, int32_t v2, int32_t origin, int shift, int32_t size, int32_t *lo,
                                 int32_t *hi)
{
    int64_t a = ((int64_t)v1 - origin) >> shift;
    int64_t b = ((int64_t)v2 - origin) >> shift;
    *lo = (int32_t)(a < 0 ? 0 : (a >= size ? size - 1 : a));
    *hi = (int32_t)(b < 0 ? 0 : (b >= size ? size - 1 : b));
}

/*
 * Hard NMS on a uniform grid of cells 2^shift wide over the candidates' extent. The cell side is at least
 * the candidates' mean largest side, so most boxes cover at most 2 x 2 cells; the grid has at most
 * 2N cells. Boxes of area 0 have no positive intersection with any box: they are tested only against the
 * wide list, where kept boxes of area 0 go under UP_BOXES_ZERO_AREA_OVERLAP.
 */
static int32_t up_boxes_hard_grid(const up_boxes_config_t *cfg, const up_boxes_input_t *in, up_boxes_scratch_t *s,
                                  int32_t c, int32_t limit, up_boxes_output_t *out)
{
    int32_t x0 = INT32_MAX, y0 = INT32_MAX, x1 = INT32_MIN, y1 = INT32_MIN;
    uint64_t side_sum = 0;
    for (int32_t i = 0; i < c; i++) {
        const int32_t *b = in->boxes + (size_t)s->order[i] * 4u;
        x0 = up_min32(x0, b[0]);
        y0 = up_min32(y0, b[1]);
        x1 = up_max32(x1, b[2]);
        y1 = up_max32(y1, b[3]);
        uint64_t w = up_side(b[0], b[2]);
        uint64_t h = up_side(b[1], b[3]);
        side_sum += w > h ? w : h;
    }
    if (c == 0) {
        return 0;
    }
    uint64_t mean = up_udiv_round(side_sum, (uint64_t)c);
    int shift = 0;
    while (shift < 32 && ((uint64_t)1 << shift) < mean) {
        shift++;
    }
    int32_t gx;
    int32_t gy;
    for (;;) {
        int64_t ex = x1 > x0 ? (((int64_t)x1 - x0) >> shift) + 1 : 1;
        int64_t ey = y1 > y0 ? (((int64_t)y1 - y0) >> shift) + 1 : 1;
        if (ex * ey <= s->cells) {
            gx = (int32_t)ex;
            gy = (int32_t)ey;
            break;
        }
        shift++;
    }
    for (int32_t i = 0; i < gx * gy; i++) {
        s->heads[i] = -1;
    }
    int32_t nent = 0;
    int32_t nwide = 0;
    bool zero_overlap = (cfg->flags & UP_BOXES_ZERO_AREA_OVERLAP) != 0;
    int32_t kept = 0;
    for (int32_t i = 0; i < c && kept < limit; i++) {
        int32_t a = s->order[i];
        const int32_t *box = in->boxes + (size_t)a * 4u;
        int32_t cls = in->classes ? in->classes[a] : 0;
        int32_t k = up_boxes_step(cfg, kept);
        uint64_t num = cfg->iou_num[k];
        int32_t sh = cfg->iou_shift[k];
        bool suppressed = false;
        for (int32_t w = 0; w < nwide && !suppressed; w++) {
            int32_t b = s->wide[w];
            suppressed = up_same_class(in, a, b) && up_boxes_exceeds(cfg, box, in->boxes + (size_t)b * 4u, k);
        }
        uint64_t area = up_area(box);
        int32_t cx0, cx1, cy0, cy1;
        up_cell_range(box[0], box[2], x0, shift, gx, &cx0, &cx1);
        up_cell_range(box[1], box[3], y0, shift, gy, &cy0, &cy1);
        int64_t span = ((int64_t)cx1 - cx0 + 1) * ((int64_t)cy1 - cy0 + 1);
        if (area != 0 && !suppressed) {
            if (span > kept) { /* fewer kept boxes than cells to visit: test them all */
                for (int32_t j = 0; j < kept && !suppressed; j++) {
                    int32_t b = out->indices[j];
                    suppressed = up_same_class(in, a, b) &&
                                 up_boxes_exceeds(cfg, box, in->boxes + (size_t)b * 4u, k);
                }
            } else {
                for (int32_t cy = cy0; cy <= cy1 && !suppressed; cy++) {
                    for (int32_t cx = cx0; cx <= cx1 && !suppressed; cx++) {
                        for (int32_t e = s->heads[cy * gx + cx]; e >= 0; e = s->ent[e].next) {
                            const up_grid_entry_t *en = &s->ent[e];
                            if (en->cls != cls) {
                                continue;
                            }
                            uint64_t inter = up_inter(box, en->box);
                            if (inter != 0 && up_exceeds(inter, area + en->area - inter, num, sh)) {
                                suppressed = true;
                                break;
                            }
                        }
                    }
                }
            }
        }
        if (suppressed) {
            continue;
        }
        out->indices[kept++] = a;
        if (area == 0) { /* no positive intersection with any box: only the zero-area rule can involve it */
            if (zero_overlap) {
                s->wide[nwide++] = a;
            }
            continue;
        }
        if (span > UP_GRID_REG_MAX) {
            s->wide[nwide++] = a;
            continue;
        }
        for (int32_t cy = cy0; cy <= cy1; cy++) {
            for (int32_t cx = cx0; cx <= cx1; cx++) {
                int32_t cell = cy * gx + cx;
                up_grid_entry_t *en = &s->ent[nent];
                for (int q = 0; q < 4; q++) {
                    en->box[q] = box[q];
                }
                en->cls = cls;
                en->area = area;
                en->next = s->heads[cell];
                s->heads[cell] = nent++;
            }
        }
    }
    return kept;
}

#ifndef UP_NO_SOFT_NMS
/* round(inter * 2^16 / union) (Q16), the union brought below 2^47 first (both shifted right alike). */
static int64_t up_iou_q16(uint64_t inter, uint64_t uni)
{
    while (uni >= ((uint64_t)1 << 47)) {
        inter >>= 1;
        uni >>= 1;
    }
    return (int64_t)up_udiv_round(inter << 16, uni);
}

/*
 * Soft-NMS: repeatedly output the best remaining decayed value (ties: lower index), then decay the others of
 * its class: linear by (1 - IoU) when IoU > t (exact test), Gaussian by exp(-IoU^2 / sigma) for every box.
 * A box leaves once its decayed value is <= value_bound. Scaling: IoU r in Q16 (up_iou_q16); linear
 * v * (2^16 - r) >> 16; Gaussian x = r^2 (Q32 -> Q16) * inv_sigma (Q16) -> Q20, then v * exp_q20(-x) >> 20;
 * |v| <= 2^30, so the products stay below 2^51.
 */
static int32_t up_boxes_soft(const up_boxes_config_t *cfg, const up_boxes_input_t *in, up_boxes_scratch_t *s,
                             int32_t c, int32_t limit, up_boxes_output_t *out)
{
    bool gaussian = cfg->nms_kind == UP_NMS_SOFT_GAUSSIAN;
    int32_t *idx = s->order;
    int32_t *v = s->values;
    for (int32_t i = 0; i < c; i++) {
        v[i] = in->values[idx[i]];
    }
    int32_t kept = 0;
    while (kept < limit) {
        int32_t best = -1;
        for (int32_t i = 0; i < c; i++) {
            if (idx[i] >= 0 && v[i] > cfg->value_bound &&
                (best < 0 || v[i] > v[best] || (v[i] == v[best] && idx[i] < idx[best]))) {
                best = i;
            }
        }
        if (best < 0) {
            break;
        }
        int32_t a = idx[best];
        const int32_t *bb = in->boxes + (size_t)a * 4u;
        out->indices[kept] = a;
        out->values[kept] = v[best];
        kept++;
        idx[best] = -1;
        for (int32_t i = 0; i < c; i++) {
            int32_t j = idx[i];
            if (j < 0 || !up_same_class(in, a, j)) {
                continue;
            }
            const int32_t *b = in->boxes + (size_t)j * 4u;
            if (!gaussian && !up_boxes_exceeds(cfg, bb, b, 0)) {
                continue;
            }
            uint64_t inter = up_inter(bb, b);
            int64_t r;
            if (inter == 0) {
                if (!((cfg->flags & UP_BOXES_ZERO_AREA_OVERLAP) && up_area(bb) == 0 && up_area(b) == 0)) {
                    continue;
                }
                r = 65536;
            } else {
                r = up_iou_q16(inter, up_area(bb) + up_area(b) - inter);
            }
            if (gaussian) {
                int64_t x = up_rshift_round(up_rshift_round(r * r, 16) * cfg->soft_inv_sigma_q16, 12);
                int64_t f = up_exp_q20(-up_sat32(x));
                v[i] = (int32_t)up_rshift_round((int64_t)v[i] * f, 20);
            } else {
                v[i] = (int32_t)up_rshift_round((int64_t)v[i] * (65536 - r), 16);
            }
        }
    }
    return kept;
}
#endif

#ifndef UP_NO_MERGE_NMS
/* round(n / d) half away from zero, d > 0. */
static int64_t up_boxes_mean(int64_t n, int64_t d)
{
    uint64_t q = up_udiv_round(n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n, (uint64_t)d);
    return n < 0 ? -(int64_t)q : (int64_t)q;
}

/*
 * Merge weight (Q16) of value v in a cluster whose top has value top (v <= top):
 *   blend ..... exp(v - top) (the softmax weights exp(score) / sum exp(score), shifted by the top's score);
 *               the difference is in units of 2^-vq, brought to Q20 first
 *   weighted .. v / top (score weights, normalised by the top's; values >= 0); 0 when top is 0.
 */
static int64_t up_boxes_weight(bool blend, int32_t v, int32_t top, int32_t vq)
{
    if (blend) {
        int64_t d = v < top ? (int64_t)v - top : 0; /* in [-2^31, 0] */
        int64_t x;
        if (vq >= 20) {
            x = vq > 20 ? up_rshift_round(d, vq - 20 < 62 ? vq - 20 : 62) : d;
        } else if (d == 0) {
            x = 0;
        } else {
            x = 20 - vq >= 32 ? INT32_MIN : up_sat32(d * ((int64_t)1 << (20 - vq)));
        }
        return up_rshift_round(up_exp_q20((int32_t)x), 4);
    }
    return top > 0 ? (int64_t)up_udiv_round((uint64_t)(v < top ? v : top) << 16, (uint64_t)top) : 0;
}

/*
 * Blending and weighted NMS: the top remaining candidate and every remaining one of its class with IoU > t
 * against it form a cluster; the output box is the weighted mean of the cluster's corners (and, blending,
 * the value too; weighted keeps the top's value). Removed candidates hold -1 in order[]. Scaling: weights
 * <= 2^16, corners |v| <= 2^30: terms below 2^46, at most UP_BOXES_MAX_MERGE (2^16) of them below 2^62.
 */
static int32_t up_boxes_merge(const up_boxes_config_t *cfg, const up_boxes_input_t *in, up_boxes_scratch_t *s,
                              int32_t c, int32_t limit, int32_t vq, up_boxes_output_t *out)
{
    bool blend = cfg->nms_kind == UP_NMS_BLEND;
    int32_t *idx = s->order;
    int32_t kept = 0;
    for (int32_t i = 0; i < c && kept < limit; i++) {
        int32_t a = idx[i];
        if (a < 0) {
            continue;
        }
        const int32_t *tb = in->boxes + (size_t)a * 4u;
        int32_t top = in->values[a];
        int64_t sw = 0;
        int64_t sum[5] = {0, 0, 0, 0, 0};
        for (int32_t j = i; j < c; j++) {
            int32_t b = idx[j];
            if (b < 0 || (j != i && !(up_same_class(in, a, b) &&
                                      up_boxes_exceeds(cfg, tb, in->boxes + (size_t)b * 4u, 0)))) {
                continue;
            }
            int64_t w = up_boxes_weight(blend, in->values[b], top, vq);
            const int32_t *bb = in->boxes + (size_t)b * 4u;
            for (int k = 0; k < 4; k++) {
                sum[k] += w * bb[k];
            }
            sum[4] += w * in->values[b];
            sw += w;
            if (j != i) {
                idx[j] = -1;
            }
        }
        int32_t *ob = out->boxes + (size_t)kept * 4u;
        for (int k = 0; k < 4; k++) {
            ob[k] = sw > 0 ? (int32_t)up_boxes_mean(sum[k], sw) : tb[k];
        }
        out->values[kept] = (blend && sw > 0) ? (int32_t)up_boxes_mean(sum[4], sw) : top;
        out->indices[kept] = a;
        kept++;
    }
    return kept;
}
#endif

int32_t up_boxes_nms(const up_boxes_config_t *cfg, const up_boxes_input_t *in, void *scratch,
                     size_t scratch_size, up_boxes_output_t *out)
{
    int32_t st = up_boxes_check_config(cfg);
    if (st != UP_OK) {
        return st;
    }
    bool soft = cfg->nms_kind == UP_NMS_SOFT_LINEAR || cfg->nms_kind == UP_NMS_SOFT_GAUSSIAN;
    bool merge = cfg->nms_kind == UP_NMS_BLEND || cfg->nms_kind == UP_NMS_WEIGHTED;
    if (!in || !out || !out->indices || (cfg->count > 0 && (!in->boxes || !in->keys)) ||
        ((soft || merge) && ((cfg->count > 0 && !in->values) || !out->values)) || (merge && !out->boxes) ||
        !scratch) {
        return UP_ERR_NULL;
    }
#ifdef UP_NO_SOFT_NMS
    if (soft) {
        return UP_ERR_CONFIG;
    }
#endif
#ifdef UP_NO_MERGE_NMS
    if (merge) {
        return UP_ERR_CONFIG;
    }
#endif
    int32_t limit = cfg->max_output < cfg->count ? cfg->max_output : cfg->count;
    if (out->capacity < limit) {
        return UP_ERR_OUTPUT;
    }
    size_t need = up_boxes_layout(cfg, 0, 0);
    if (scratch_size < need) {
        return UP_ERR_SCRATCH;
    }
    for (int32_t i = 0; i < cfg->count; i++) {
        const int32_t *b = in->boxes + (size_t)i * 4u;
        for (int k = 0; k < 4; k++) {
            if (b[k] > UP_BOXES_COORD_MAX || b[k] < -UP_BOXES_COORD_MAX) {
                return UP_ERR_RANGE;
            }
        }
        if (in->values && (soft || merge)) {
            int32_t v = in->values[i];
            if (v > UP_BOXES_VALUE_MAX || v < -UP_BOXES_VALUE_MAX || (cfg->nms_kind == UP_NMS_WEIGHTED && v < 0)) {
                return UP_ERR_RANGE;
            }
        }
    }
    up_boxes_scratch_t s;
    uintptr_t p = (uintptr_t)scratch;
    up_boxes_layout(cfg, (void *)((p + 7u) & ~(uintptr_t)7u), &s);
    int32_t c = up_boxes_sort(cfg, in, &s);
    if (cfg->candidate_limit > 0 && c > cfg->candidate_limit) {
        c = cfg->candidate_limit;
    }
    int32_t kept;
    if (soft) {
#ifndef UP_NO_SOFT_NMS
        kept = up_boxes_soft(cfg, in, &s, c, limit, out);
#else
        kept = 0;
#endif
    } else if (merge) {
#ifndef UP_NO_MERGE_NMS
        kept = up_boxes_merge(cfg, in, &s, c, limit, cfg->value_q, out);
#else
        kept = 0;
#endif
    } else if (up_boxes_grid(cfg)) {
        kept = up_boxes_hard_grid(cfg, in, &s, c, limit, out);
    } else {
        kept = up_boxes_hard_scan(cfg, in, s.order, c, limit, out);
    }
    out->count = kept;
    return UP_OK;
}
