/*
 * NMS over a generic box set (see up_boxes_nms in ultrapost.h): integer corners on one grid,
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
#include "up_internal.h"

#ifndef UP_NO_BOXES

#define UP_GRID_REG_MAX 4 /* cells a kept box is registered in at most; wider boxes go to the wide list */

/* A kept box in a grid cell: its corners, area and class beside the link, so a cell's tests read one line. */
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

/* IoU(a, b) > t_k; two boxes of area 0 have IoU 1 under UP_BOXES_ZERO_AREA_OVERLAP, else 0. */
bool up_boxes_exceeds(const up_boxes_config_t *cfg, const int32_t *a, const int32_t *b, int32_t k)
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

/*
 * Candidates (key > key_bound) into s->order, best first: key descending, index ascending. LSD radix sort of
 * d = ~(key as an order-preserving uint64), ascending, one byte per pass, skipping bytes that all candidates
 * share. Returns the number of candidates, or -1 when a candidate's corner or value is out of range.
 */
static int32_t up_boxes_sort(const up_boxes_config_t *cfg, const up_boxes_input_t *in, up_boxes_scratch_t *s)
{
    int32_t c = 0;
    uint64_t all_or = 0;
    uint64_t all_and = ~(uint64_t)0;
    bool values = cfg->nms_kind != UP_NMS_HARD;
    for (int32_t i = 0; i < cfg->count; i++) {
        int64_t key = in->keys[i];
        if (key > cfg->key_bound) {
            /* only candidates are ever read: their corners (and values) are checked here, once */
            const int32_t *b = in->boxes + (size_t)i * 4u;
            const uint32_t off = (uint32_t)UP_BOXES_COORD_MAX; /* |v| <= 2^30  <=>  v + 2^30 in [0, 2^31] */
            if ((uint32_t)b[0] + off > 2u * off || (uint32_t)b[1] + off > 2u * off ||
                (uint32_t)b[2] + off > 2u * off || (uint32_t)b[3] + off > 2u * off) {
                return -1;
            }
            if (values) {
                int32_t v = in->values[i];
                if (v > UP_BOXES_VALUE_MAX || v < -UP_BOXES_VALUE_MAX ||
                    (cfg->nms_kind == UP_NMS_WEIGHTED && v < 0)) {
                    return -1;
                }
            }
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
    up_boxes_scratch_t s;
    uintptr_t p = (uintptr_t)scratch;
    up_boxes_layout(cfg, (void *)((p + 7u) & ~(uintptr_t)7u), &s);
    int32_t c = up_boxes_sort(cfg, in, &s);
    if (c < 0) {
        return UP_ERR_RANGE;
    }
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
#else
/* UP_NO_BOXES: the box-set NMS is left out of this build; its entry points refuse every config. */
size_t up_boxes_scratch_size(const up_boxes_config_t *cfg)
{
    (void)cfg;
    return 0;
}

int32_t up_boxes_nms(const up_boxes_config_t *cfg, const up_boxes_input_t *in, void *scratch,
                     size_t scratch_size, up_boxes_output_t *out)
{
    (void)in;
    (void)scratch;
    (void)scratch_size;
    (void)out;
    return cfg ? UP_ERR_CONFIG : UP_ERR_NULL;
}
#endif
