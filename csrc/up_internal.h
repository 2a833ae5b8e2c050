/*
 * Internal interface between the core's stages. Not part of the public API:
 * the host float path (up_host_float.c) uses it to feed float32 tensors
 * through the same integer stages.
 */
#ifndef UP_INTERNAL_H
#define UP_INTERNAL_H

#include "ultrapost.h"
#include "up_fixed.h"

/* Where a run reads its inputs from. */
typedef struct up_source {
    const up_config_t *cfg;
    const void *scores;
    int32_t score_stride;
    const void *boxes;
    int32_t box_stride;
    /* Host float path only: keys already converted (valid for every anchor
     * that passed the score test) and a fetch that converts one box row. */
    const int32_t *keys;
    void (*fetch_box)(const struct up_source *src, int32_t anchor, int32_t raw[4]);
} up_source_t;

/* Score key of one anchor (see ultrapost.h for its meaning per input kind). */
static inline int32_t up_key(const up_source_t *src, int32_t a)
{
    const up_config_t *cfg = src->cfg;
    int32_t c = cfg->class_index;
    if (src->keys) {
        return src->keys[a];
    }
    if (cfg->input_kind == UP_INPUT_S8) {
        const int8_t *row = (const int8_t *)src->scores + (size_t)a * (size_t)src->score_stride;
        return cfg->score_kind == UP_SCORE_PROB ? row[c] : (int32_t)row[c] - row[1 - c];
    } else {
        const int32_t *row = (const int32_t *)src->scores + (size_t)a * (size_t)src->score_stride;
        return cfg->score_kind == UP_SCORE_PROB ? row[c] : up_sat32((int64_t)row[c] - row[1 - c]);
    }
}

/* Candidates: appends to the bounded heap in scratch; call in ascending anchor order. */
typedef struct {
    int32_t *idx;   /* scratch: candidate_limit anchor indices */
    int32_t count;
    int32_t limit;
} up_candidates_t;

void up_candidates_push(const up_source_t *src, up_candidates_t *cand, int32_t anchor);
/* Sorts the held candidates best first (key descending, anchor ascending). */
void up_candidates_sort(const up_source_t *src, up_candidates_t *cand);
/* Scans every anchor of an S8 or I32 source and pushes those passing the score test. */
void up_select(const up_source_t *src, up_candidates_t *cand);

/* Q30 output score of a key. */
int32_t up_score_of_key(const up_config_t *cfg, int32_t key);
/* Reads the raw box row of an anchor as int32 (S8 values, I32 values, or fetch_box). */
void up_raw_box(const up_source_t *src, int32_t anchor, int32_t raw[4]);
/* Decodes one raw box row of an anchor into Q20 corners. */
void up_decode(const up_config_t *cfg, int32_t anchor, const int32_t raw[4], int32_t box[4]);
/* NMS over sorted candidates into out. */
int32_t up_nms(const up_source_t *src, const up_candidates_t *cand, up_output_t *out);
/* Checks the per-run arguments of a checked config. */
int32_t up_check_run(const up_config_t *cfg, int32_t score_stride, int32_t box_stride,
                     size_t scratch_size, size_t scratch_needed, const void *scratch,
                     const up_output_t *out);
/* Sorts the selected candidates and runs NMS into out. */
int32_t up_finish(const up_source_t *src, up_candidates_t *cand, up_output_t *out);

#endif /* UP_INTERNAL_H */
