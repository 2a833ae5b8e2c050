/*
 * Score test and candidate selection.
 *
 * Candidates are appended in anchor order until candidate_limit are held; only
 * a further one turns them into a bounded binary heap whose top is the worst
 * held candidate. All of it lives in caller scratch (one int32 index each; keys
 * are re-read from the input, so scratch stays at 4 bytes per candidate).
 * Order is total -- key descending, then anchor ascending -- so the result
 * does not depend on how it is sorted.
 */
#include "up_internal.h"

/* a ranks before b: higher key, or equal key and lower anchor index. */
static inline bool up_before(const up_source_t *src, int32_t a, int32_t b)
{
    int32_t ka = up_key(src, a);
    int32_t kb = up_key(src, b);
    return ka > kb || (ka == kb && a < b);
}

/* Restores the heap below position i (worst at the top) over n entries. */
static void up_sift_down(const up_source_t *src, int32_t *h, int32_t n, int32_t i)
{
    for (;;) {
        int32_t worst = i;
        int32_t l = 2 * i + 1;
        int32_t r = l + 1;
        if (l < n && up_before(src, h[worst], h[l])) {
            worst = l;
        }
        if (r < n && up_before(src, h[worst], h[r])) {
            worst = r;
        }
        if (worst == i) {
            return;
        }
        int32_t t = h[i];
        h[i] = h[worst];
        h[worst] = t;
        i = worst;
    }
}

/* Floyd's heap construction over the held candidates (worst at the top). */
static void up_heapify(const up_source_t *src, up_candidates_t *cand)
{
    for (int32_t i = cand->count / 2 - 1; i >= 0; i--) {
        up_sift_down(src, cand->idx, cand->count, i);
    }
    cand->heap = true;
}

void up_candidates_push(const up_source_t *src, up_candidates_t *cand, int32_t anchor)
{
    if (cand->count < cand->limit) {
        cand->idx[cand->count++] = anchor;
        return;
    }
    if (!cand->heap) {
        up_heapify(src, cand);
    }
    if (up_before(src, anchor, cand->idx[0])) {
        cand->idx[0] = anchor;
        up_sift_down(src, cand->idx, cand->count, 0);
    }
}

void up_candidates_sort(const up_source_t *src, up_candidates_t *cand)
{
    int32_t *h = cand->idx;
    int32_t count = cand->count;
    if (!cand->heap && count <= UP_INSERTION_SORT_MAX) {
        /* Binary insertion sort: few key reads (n log n); the element moves (n^2 / 4) are plain copies. */
        for (int32_t i = 1; i < count; i++) {
            int32_t a = h[i];
            int32_t lo = 0;
            int32_t hi = i;
            while (lo < hi) {
                int32_t mid = lo + (hi - lo) / 2;
                if (up_before(src, a, h[mid])) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            for (int32_t j = i; j > lo; j--) {
                h[j] = h[j - 1];
            }
            h[lo] = a;
        }
        return;
    }
    if (!cand->heap) {
        up_heapify(src, cand);
    }
    /* Heap sort: the worst goes to the end each round, leaving best first. */
    for (int32_t n = count; n > 1; n--) {
        int32_t t = h[0];
        h[0] = h[n - 1];
        h[n - 1] = t;
        up_sift_down(src, h, n - 1, 0);
    }
}

void up_select(const up_source_t *src, up_candidates_t *cand)
{
    const up_config_t *cfg = src->cfg;
    int32_t n = cfg->num_anchors;
    int32_t bound = src->bound;
    int32_t c = src->column;
    int32_t stride = src->score_stride;
    /* Specialised loops for the common kinds; the generic key otherwise. */
    if (cfg->input_kind == UP_INPUT_S8 && cfg->score_kind != UP_SCORE_LOGIT2) {
        const int8_t *s = (const int8_t *)src->scores + c;
        for (int32_t a = 0; a < n; a++) {
            if (s[(size_t)a * (size_t)stride] > bound) {
                up_candidates_push(src, cand, a);
            }
        }
    } else if (cfg->input_kind == UP_INPUT_I32 && cfg->score_kind == UP_SCORE_PROB) {
        const int32_t *s = (const int32_t *)src->scores + c;
        for (int32_t a = 0; a < n; a++) {
            if (s[(size_t)a * (size_t)stride] > bound) {
                up_candidates_push(src, cand, a);
            }
        }
    } else {
        for (int32_t a = 0; a < n; a++) {
            if (up_key(src, a) > bound) {
                up_candidates_push(src, cand, a);
            }
        }
    }
}

int32_t up_score_of_key(const up_config_t *cfg, int32_t key)
{
    if (cfg->input_kind == UP_INPUT_S8) {
        return cfg->score_kind == UP_SCORE_LOGIT2 ? cfg->score_lut[key + 255] : cfg->score_lut[key + 128];
    }
    return cfg->score_kind == UP_SCORE_PROB ? key : up_sigmoid_q30(key);
}
