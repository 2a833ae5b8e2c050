/*
 * The host's hard NMS: the decisions of the core's up_nms_hard, with a pre-test that settles most pairs of boxes
 * 16 kept boxes at a time (vectorized on x86-64 with AVX2), leaving only the rest to the core's exact IoU test.
 */
#include "up_host_internal.h"

/*
 * Kept boxes for the overlap pre-test, in blocks of 16 (max_detections rounded up): per block, UP_KEPT_COLS
 * int16 columns of 16: x1, y1, x2 + pad_x, y2 + pad_y, and the smallest padded intersection width and height
 * that can still give IoU > t with that box. Int16 halves the vector steps; each value is rounded outwards from
 * Q20 by UP_KEPT_SHIFT bits (x1 and the bounds down, x2 + pad up), so the test stays a necessary condition
 * (see up_min_overlap). Ranges: corners within +-4.0 (UP_BOX_LIMIT) and pads at most 1.0 give x1 in
 * [-8192, 8192], x2 + pad in [-8192, 10240] and bounds below 18432, so differences fit in int16.
 */
#define UP_KEPT_COLS 6
#define UP_KEPT_ROWS 16
#define UP_KEPT_BLOCK (UP_KEPT_COLS * UP_KEPT_ROWS)
#define UP_KEPT_SHIFT 9

static int32_t up_kept_rows(const up_config_t *cfg)
{
    return (cfg->max_detections + UP_KEPT_ROWS - 1) & ~(UP_KEPT_ROWS - 1);
}

/* The blocks, plus room to start them 32-byte aligned wherever the caller's scratch lies: a 256-bit load of a
 * block column then never splits a cache line (measured: 5% of the whole run on a dense photo). */
size_t up_host_kept_bytes(const up_config_t *cfg)
{
    return (size_t)UP_KEPT_COLS * (size_t)up_kept_rows(cfg) * sizeof(int16_t) + 31u;
}

int16_t *up_host_kept_blocks(const up_config_t *cfg, void *scratch)
{
    uintptr_t at = (uintptr_t)scratch + up_scratch_bytes(cfg);
    return (int16_t *)((at + 31u) & ~(uintptr_t)31u);
}

/*
 * The overlap pre-test. With iw = min(a.x2, b.x2) + pad_x - max(a.x1, b.x1) (and ih likewise), IoU(a, b) > t
 * needs iw * 2^16 > t_q16 * w(a), w the padded width: the union is at least a's area w(a) * h(a), and the
 * intersection at most iw * h(a). The same holds for b, and for heights. So only pairs with iw above
 * floor(t_q16 * w / 2^16) for both boxes (and ih likewise) go on to up_iou_exceeds, which decides; in a crowd,
 * this leaves out the neighbours whose boxes merely touch. In the blocks' rounded units, iw can only grow and
 * the bounds only shrink, so no pair that needs the exact test is left out.
 */
static inline int32_t up_min_overlap(const up_config_t *cfg, int32_t lo, int32_t hi, int32_t pad)
{
    return (int32_t)(((int64_t)cfg->iou_q16 * up_extent(lo, hi, pad)) >> 16); /* extents stay below 2^24 */
}

static inline int16_t up_kept_floor(int32_t v)
{
    return (int16_t)(v >> UP_KEPT_SHIFT); /* arithmetic shift: floor */
}

static inline int16_t up_kept_ceil(int32_t v)
{
    return (int16_t)-((-v) >> UP_KEPT_SHIFT);
}

/* A box as a row of the pre-test's columns (see UP_KEPT_COLS). */
static inline void up_kept_row(const up_config_t *cfg, const int32_t *box, int16_t row[UP_KEPT_COLS])
{
    row[0] = up_kept_floor(box[0]);
    row[1] = up_kept_floor(box[1]);
    row[2] = up_kept_ceil(box[2] + cfg->pad_x_q20);
    row[3] = up_kept_ceil(box[3] + cfg->pad_y_q20);
    row[4] = up_kept_floor(up_min_overlap(cfg, box[0], box[2], cfg->pad_x_q20));
    row[5] = up_kept_floor(up_min_overlap(cfg, box[1], box[3], cfg->pad_y_q20));
}

/* Whether box (its pre-test row in c) is suppressed by any of the kept boxes [0, kept). */
static bool up_suppressed_portable(const up_config_t *cfg, const int16_t *blocks, int32_t kept, const int16_t *c,
                                   const int32_t *box, const int32_t *kept_boxes)
{
    for (int32_t j = 0; j < kept; j++) {
        /* column c of row j at k[UP_KEPT_ROWS * c] */
        const int16_t *k = blocks + (size_t)(j / UP_KEPT_ROWS) * UP_KEPT_BLOCK + j % UP_KEPT_ROWS;
        int32_t iw = up_min32(k[UP_KEPT_ROWS * 2], c[2]) - up_max32(k[0], c[0]);
        int32_t ih = up_min32(k[UP_KEPT_ROWS * 3], c[3]) - up_max32(k[UP_KEPT_ROWS * 1], c[1]);
        if (iw > up_max32(k[UP_KEPT_ROWS * 4], c[4]) && ih > up_max32(k[UP_KEPT_ROWS * 5], c[5]) &&
            up_iou_exceeds(cfg, box, kept_boxes + (size_t)j * 4u)) {
            return true;
        }
    }
    return false;
}

#ifdef UP_HOST_X86
/* Lane k of a row of int16 in every lane (a byte shuffle: no round trip through memory, which would lengthen the
 * path from a box to its decision). */
#define UP_LANE16(k) _mm256_setr_epi8(2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), \
    2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), \
    2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), \
    2 * (k) + 1, 2 * (k), 2 * (k) + 1, 2 * (k), 2 * (k) + 1)

/* The same, 16 kept boxes per step over whole blocks (unused rows hold UP_KEPT_EMPTY); row: the candidate's
 * pre-test row in lanes 0..5. */
__attribute__((target("avx2"))) static bool up_suppressed_avx2(const up_config_t *cfg, const int16_t *blocks,
                                                                 int32_t kept, __m128i row, const int32_t *box,
                                                                 const int32_t *kept_boxes)
{
    __m256i both = _mm256_broadcastsi128_si256(row);
    __m256i c0 = _mm256_shuffle_epi8(both, UP_LANE16(0));
    __m256i c1 = _mm256_shuffle_epi8(both, UP_LANE16(1));
    __m256i c2 = _mm256_shuffle_epi8(both, UP_LANE16(2));
    __m256i c3 = _mm256_shuffle_epi8(both, UP_LANE16(3));
    __m256i c4 = _mm256_shuffle_epi8(both, UP_LANE16(4));
    __m256i c5 = _mm256_shuffle_epi8(both, UP_LANE16(5));
    const __m256i *k = (const __m256i *)blocks;
    for (int32_t j0 = 0; j0 < kept; j0 += UP_KEPT_ROWS, k += UP_KEPT_COLS) {
        __m256i iw = _mm256_sub_epi16(_mm256_min_epi16(_mm256_load_si256(k + 2), c2),
                                      _mm256_max_epi16(_mm256_load_si256(k), c0));
        __m256i ih = _mm256_sub_epi16(_mm256_min_epi16(_mm256_load_si256(k + 3), c3),
                                      _mm256_max_epi16(_mm256_load_si256(k + 1), c1));
        __m256i hit = _mm256_and_si256(_mm256_cmpgt_epi16(iw, _mm256_max_epi16(_mm256_load_si256(k + 4), c4)),
                                       _mm256_cmpgt_epi16(ih, _mm256_max_epi16(_mm256_load_si256(k + 5), c5)));
        /* two mask bits per int16 lane: keep the low one */
        unsigned mask = (unsigned)_mm256_movemask_epi8(hit) & 0x55555555u;
        for (; mask; mask &= mask - 1u) {
            if (up_iou_exceeds(cfg, box, kept_boxes + (size_t)(j0 + up_lowest_bit(mask) / 2) * 4u)) {
                return true;
            }
        }
    }
    return false;
}
#endif

/* Unused rows of a block of kept boxes hold x1 = y1 = this and x2 + pad = y2 + pad = -this: their iw and ih
 * are -24576 for every box (rounded corners within [-8192, 10240]), so they overlap nothing. */
#define UP_KEPT_EMPTY ((int16_t)12288)
static const int16_t up_kept_empty[UP_KEPT_COLS] = {UP_KEPT_EMPTY, UP_KEPT_EMPTY, -UP_KEPT_EMPTY, -UP_KEPT_EMPTY,
                                                    0, 0};

#ifdef UP_HOST_X86
/* up_kept_row in one vector: corners (+ pads) shifted with floor (x1, y1) or ceil (x2, y2), and the smallest
 * overlaps floor(floor(t_q16 * extent / 2^16) / 2^9) = t_q16 * extent >> 25 (both >= 0); every value fits int16
 * (see UP_KEPT_COLS), so the saturating pack only narrows. Returns the row's 6 int16 in lanes 0..5. */
__attribute__((target("avx2"))) static inline __m128i up_kept_row_avx2(const up_config_t *cfg, __m128i box)
{
    __m128i v = _mm_add_epi32(box, _mm_setr_epi32(0, 0, cfg->pad_x_q20, cfg->pad_y_q20));
    __m128i lo = _mm_srai_epi32(v, UP_KEPT_SHIFT);
    __m128i hi = _mm_sub_epi32(_mm_setzero_si128(), _mm_srai_epi32(_mm_sub_epi32(_mm_setzero_si128(), v),
                                                                  UP_KEPT_SHIFT));
    __m128i corners = _mm_blend_epi32(lo, hi, 0xC);
    /* extents x2 + pad - x1, y2 + pad - y1 in lanes 0 and 2 (where mul_epu32 reads), clipped at 0 */
    __m128i ext = _mm_max_epi32(_mm_sub_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(3, 3, 3, 2)),
                                              _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 1, 0))),
                                _mm_setzero_si128());
    ext = _mm_shuffle_epi32(ext, _MM_SHUFFLE(1, 1, 0, 0));
    __m128i overlap = _mm_srli_epi64(_mm_mul_epu32(ext, _mm_set1_epi32(cfg->iou_q16)), UP_KEPT_SHIFT + 16);
    overlap = _mm_shuffle_epi32(overlap, _MM_SHUFFLE(2, 2, 2, 0));
    return _mm_packs_epi32(corners, overlap);
}
#endif

/* The boxes of the candidates from index `from` on, which hard NMS stopped before reaching, count too (as the
 * core's up_check_boxes: the same rule for every NMS kind); float32 rows are read as the host reads them. */
static void up_host_check_boxes(const up_host_source_t *h, const up_candidates_t *cand, int32_t from)
{
    const up_config_t *cfg = h->src.cfg;
    if (!h->boxes) {
        up_check_boxes(&h->src, cand, from);
        return;
    }
    if (cfg->box_kind == UP_BOX_CORNERS && cfg->clip) {
        return;
    }
    for (int32_t i = from; i < cand->count; i++) {
        int32_t box[4];
        up_host_box_f32(h, cand->idx[i], box);
    }
}

/* The key of a candidate: converted already in a float32 run (keys), else read by the core. */
static inline int32_t up_host_key(const int32_t *keys, const up_source_t *src, int32_t anchor)
{
    return keys ? keys[anchor] : up_key(src, anchor);
}

/* Hard NMS with up_nms_hard's decisions; kept boxes are tested 16 at a time (whole blocks, see UP_KEPT_EMPTY).
 * Inlined into an AVX2 and a portable variant, so that the AVX2 one inlines its vector steps. */
static inline UP_ALWAYS_INLINE int32_t up_host_nms_hard_body(const up_host_source_t *h,
                                                             const up_candidates_t *cand, up_output_t *out,
                                                             bool avx2)
{
    (void)avx2; /* only x86 builds have a vector variant */
    const up_source_t *src = &h->src;
    const up_config_t *cfg = src->cfg;
    int32_t m = cfg->max_detections;
    int16_t *blocks = h->kept_blocks;
    const int32_t *keys = h->keys;
    int32_t kept = 0;
    /* int32 or float32 probabilities (score = key) without keypoints: the output row is written here, as up_emit
     * would, without its two calls into the core's files (kept out of line there for size; 0.15 us of the
     * densest photo's 4.8 here) */
    bool plain = cfg->num_keypoints == 0 && cfg->score_kind == UP_SCORE_PROB && cfg->input_kind != UP_INPUT_S8;
    /* float32 rows: candidates decoded ahead, 32 at a time (deltas 8 per vector step), into the packed buffers
     * (free once the candidates are in cand) */
#ifdef UP_HOST_X86
    int32_t *decoded = 0;
    int32_t ready = 0;
    if (avx2 && h->boxes) {
        decoded = (int32_t *)h->packed;
    }
#endif
    int32_t i = 0;
    for (; i < cand->count && kept < m; i++) {
        int32_t anchor = cand->idx[i];
        int32_t own[4];
        const int32_t *box = own;
        int16_t row[8]; /* UP_KEPT_COLS used; 8 for the vector store of a whole row */
#ifdef UP_HOST_X86
        if (decoded) {
            if (i == ready) {
                int32_t block = cand->count - i < 32 ? cand->count - i : 32;
                up_host_decode_batch_avx2(h, cand->idx + i, block, decoded + (size_t)i * 4u);
                ready += block;
            }
            box = decoded + (size_t)i * 4u;
        } else
#endif
        if (h->boxes) {
            up_host_box_f32(h, anchor, own);
        } else {
            up_box_of(src, anchor, own);
        }
        bool suppressed;
#ifdef UP_HOST_X86
        if (avx2) {
            __m128i r = up_kept_row_avx2(cfg, _mm_loadu_si128((const __m128i *)box));
            suppressed = up_suppressed_avx2(cfg, blocks, kept, r, box, out->boxes);
            _mm_storeu_si128((__m128i *)row, r);
        } else
#endif
        {
            up_kept_row(cfg, box, row);
            suppressed = up_suppressed_portable(cfg, blocks, kept, row, box, out->boxes);
        }
        if (!suppressed) {
            if (plain) {
                for (int k = 0; k < 4; k++) {
                    out->boxes[(size_t)kept * 4u + (size_t)k] = box[k];
                }
                out->scores[kept] = up_host_key(keys, src, anchor);
                out->anchors[kept] = anchor;
            } else {
                if (h->keypoints) {
                    up_host_convert_keypoints(h, anchor); /* float32: the row the core's up_emit reads */
                }
                up_emit(src, out, kept, anchor, box, up_score_of_key(cfg, up_host_key(keys, src, anchor)));
            }
            int16_t *blk = blocks + (size_t)(kept / UP_KEPT_ROWS) * UP_KEPT_BLOCK;
            int32_t r = kept % UP_KEPT_ROWS;
            if (r == 0) {
                for (int k = 0; k < UP_KEPT_COLS; k++) {
                    for (int32_t j = 0; j < UP_KEPT_ROWS; j++) {
                        blk[UP_KEPT_ROWS * k + j] = up_kept_empty[k];
                    }
                }
            }
            for (int k = 0; k < UP_KEPT_COLS; k++) {
                blk[UP_KEPT_ROWS * k + r] = row[k];
            }
            kept++;
        }
    }
    up_host_check_boxes(h, cand, i);
    out->count = kept;
    return UP_OK;
}

#ifdef UP_HOST_X86
__attribute__((target("avx2"))) static int32_t up_host_nms_hard_avx2(const up_host_source_t *h,
                                                                       const up_candidates_t *cand,
                                                                       up_output_t *out)
{
    return up_host_nms_hard_body(h, cand, out, true);
}
#endif

int32_t up_host_nms_hard(const up_host_source_t *h, const up_candidates_t *cand, up_output_t *out)
{
#ifdef UP_HOST_X86
    if (__builtin_cpu_supports("avx2")) {
        return up_host_nms_hard_avx2(h, cand, out);
    }
#endif
    return up_host_nms_hard_body(h, cand, out, false);
}
