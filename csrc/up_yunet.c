/*
 * YuNet (see ultrapost.h): the float32 score in integers, selection of the
 * top_k candidates, fixed-point decode and OpenCV's NMS on integer rectangles.
 */
#include "ultrapost.h"
#include "up_fixed.h"

/* Bits of x (0..64). */
static int up_bitlen64(uint64_t x)
{
#if defined(__GNUC__)
    return x ? 64 - __builtin_clzll(x) : 0;
#else
    int n = 0;
    while (x) {
        x >>= 1;
        n++;
    }
    return n;
#endif
}

/* m * 2^-shift rounded to nearest, ties to even; shift may be <= 0 (exact). */
static uint64_t up_round_even(uint64_t m, int shift)
{
    if (shift <= 0) {
        return m << -shift;
    }
    if (shift >= 64) {
        return 0; /* m < 2^48 here: below half of the last place */
    }
    uint64_t q = m >> shift;
    uint64_t rem = m & (((uint64_t)1 << shift) - 1u);
    uint64_t half = (uint64_t)1 << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) {
        q++;
    }
    return q;
}

/*
 * Product of two float32 values in [0, 1] (bit patterns), rounded to nearest
 * even as IEEE-754 multiplication, subnormals included. Scaling: significands
 * below 2^24, their product below 2^48 in uint64; value = p * 2^(ea + eb - 300).
 */
uint32_t up_f32_mul_bits(uint32_t a, uint32_t b)
{
    int32_t ea = (int32_t)(a >> 23);
    int32_t eb = (int32_t)(b >> 23);
    uint64_t ma = a & 0x7fffffu;
    uint64_t mb = b & 0x7fffffu;
    if (ea) {
        ma |= 0x800000u;
    } else {
        ea = 1;
    }
    if (eb) {
        mb |= 0x800000u;
    } else {
        eb = 1;
    }
    uint64_t p = ma * mb;
    if (p == 0) {
        return 0;
    }
    int n = up_bitlen64(p);
    int32_t biased = ea + eb - 300 + n - 1 + 127; /* exponent field if the result is normal */
    int shift = n - 24;
    if (biased < 1) { /* subnormal result: the significand is p scaled to 2^-149 units */
        shift += 1 - biased;
        /* the bits of a subnormal are its significand; rounding up to 2^23 gives the smallest normal's bits */
        return (uint32_t)up_round_even(p, shift);
    }
    uint64_t m = up_round_even(p, shift);
    if (m == ((uint64_t)1 << 24)) {
        m >>= 1;
        biased++;
    }
    return ((uint32_t)biased << 23) | ((uint32_t)m & 0x7fffffu);
}

/* floor(sqrt(x)) for x < 2^62, bit by bit. */
static uint64_t up_isqrt64(uint64_t x)
{
    uint64_t r = 0;
    uint64_t bit = (uint64_t)1 << 62;
    while (bit > x) {
        bit >>= 2;
    }
    while (bit) {
        if (x >= r + bit) {
            x -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

/*
 * Square root of a float32 value in [0, 1] (bit pattern), correctly rounded
 * (IEEE-754 sqrtf). Scaling: value = m * 2^x with x even after an adjustment;
 * m is shifted to 47 or 48 bits so that its root has 24; a root is never a tie,
 * so rounding to nearest is "remainder > root".
 */
uint32_t up_f32_sqrt_bits(uint32_t a)
{
    if (a == 0) {
        return 0;
    }
    int32_t e = (int32_t)(a >> 23);
    uint64_t m = a & 0x7fffffu;
    if (e) {
        m |= 0x800000u;
    } else {
        e = 1;
    }
    int32_t x = e - 150;
    if (x & 1) {
        m <<= 1;
        x -= 1;
    }
    int s2 = 48 - up_bitlen64(m);
    s2 &= ~1;
    m <<= s2;
    x -= s2;
    uint64_t r = up_isqrt64(m);
    if (m - r * r > r) {
        r++;
    }
    int32_t biased = 150 + x / 2; /* x even: exact division */
    if (r == ((uint64_t)1 << 24)) {
        r >>= 1;
        biased++;
    }
    return ((uint32_t)biased << 23) | ((uint32_t)r & 0x7fffffu);
}

/* Q30 of a float32 value in [0, 1] (bit pattern), rounded half up. */
static int32_t up_f32_to_q30(uint32_t a)
{
    int32_t e = (int32_t)(a >> 23);
    int64_t m = a & 0x7fffffu;
    if (e) {
        m |= 0x800000;
    } else {
        e = 1;
    }
    int shift = 120 - e; /* value * 2^30 = m * 2^(e - 120) */
    if (shift <= 0) {
        return (int32_t)(m << -shift); /* e <= 127: below 2^31 */
    }
    return shift > 62 ? 0 : (int32_t)up_rshift_round(m, shift);
}

int32_t up_yunet_num_points(const up_yunet_config_t *cfg)
{
    if (cfg->pad_w < 32 || cfg->pad_h < 32 || cfg->pad_w > UP_YUNET_MAX_SIDE || cfg->pad_h > UP_YUNET_MAX_SIDE ||
        (cfg->pad_w & 31) || (cfg->pad_h & 31)) {
        return 0;
    }
    int32_t n = 0;
    for (int l = 0; l < UP_YUNET_LEVELS; l++) {
        n += (cfg->pad_w >> (3 + l)) * (cfg->pad_h >> (3 + l));
    }
    return n;
}

int32_t up_yunet_check_config(const up_yunet_config_t *cfg)
{
    if (!cfg) {
        return UP_ERR_NULL;
    }
    int32_t n = up_yunet_num_points(cfg);
    if (n == 0) {
        return UP_ERR_NUM_ANCHORS;
    }
    if ((cfg->input_kind != UP_INPUT_S8 && cfg->input_kind != UP_INPUT_F32) || cfg->top_k < 1 ||
        cfg->top_k > n || cfg->max_detections < 1 || cfg->max_detections > cfg->top_k) {
        return UP_ERR_CONFIG;
    }
    if (cfg->product_bound < -1 || cfg->product_bound > UP_F32_ONE_BITS || cfg->nms_bound < -1 ||
        cfg->nms_bound > UP_F32_ONE_BITS || cfg->iou_mid_e < 0 || cfg->iou_mid_e > 100 ||
        cfg->iou_mid_m >= ((uint64_t)1 << 60)) {
        return UP_ERR_CONFIG;
    }
    if (cfg->input_kind == UP_INPUT_S8) {
        for (int l = 0; l < UP_YUNET_LEVELS; l++) {
            if (!cfg->cls_lut[l] || !cfg->obj_lut[l] || !cfg->center_lut[l] || !cfg->size_lut[l] ||
                !cfg->kps_lut[l]) {
                return UP_ERR_NULL;
            }
            for (int q = 0; q < 256; q++) { /* probabilities in [0, 1]: the integer float arithmetic's domain */
                if (cfg->cls_lut[l][q] < 0 || cfg->cls_lut[l][q] > UP_F32_ONE_BITS || cfg->obj_lut[l][q] < 0 ||
                    cfg->obj_lut[l][q] > UP_F32_ONE_BITS) {
                    return UP_ERR_CONFIG;
                }
            }
        }
    }
    return UP_OK;
}

size_t up_yunet_scratch_size(const up_yunet_config_t *cfg)
{
    if (up_yunet_check_config(cfg) != UP_OK) {
        return 0;
    }
    return (size_t)cfg->top_k * 8u + (size_t)cfg->max_detections * 16u;
}

/* Clamped float32 bits of an F32 probability; -1 for NaN or Inf. */
static int32_t up_prob_bits(int32_t v)
{
    uint32_t u = (uint32_t)v;
    if ((u & 0x7fffffffu) >= 0x7f800000u) {
        return -1;
    }
    if (u & 0x80000000u) {
        return 0; /* negative (or -0): clamped to 0 */
    }
    return v > UP_F32_ONE_BITS ? UP_F32_ONE_BITS : v;
}

/*
 * Q20 of a float32 value (bit pattern), floor(x * 2^20 + 0.5) as the host's float boundary rounds; false for NaN,
 * Inf or |x| >= 2048 (beyond int32 in Q20). Scaling: x * 2^20 = m * 2^(e - 130), m < 2^24.
 */
static bool up_f32_to_q20(int32_t bits, int32_t *q20)
{
    uint32_t a = (uint32_t)bits & 0x7fffffffu;
    if (a >= 0x45000000u) { /* 2048.0f, Inf and NaN */
        return false;
    }
    int32_t e = (int32_t)(a >> 23);
    int64_t m = a & 0x7fffffu;
    if (e) {
        m |= 0x800000;
    } else {
        e = 1;
    }
    int shift = 130 - e;
    int64_t v;
    if (shift <= 0) {
        v = m << -shift; /* e <= 138 here: below 2^31 */
    } else if (shift > 62) {
        v = 0;
    } else if (bits >= 0) {
        v = (m + ((int64_t)1 << (shift - 1))) >> shift;
    } else {
        v = (m + ((int64_t)1 << (shift - 1)) - 1) >> shift;
    }
    *q20 = bits >= 0 ? (int32_t)v : -(int32_t)v;
    return true;
}

/* Float32 bits of cls * obj of point i of level l; -1 for a non-finite input. A product of values in [0, 1] is at
 * most the smaller of them (rounding is monotone), so when either is at or below the bound the product is too:
 * that factor's bits are returned without multiplying (only "> product_bound" is read from the result). */
static int32_t up_yunet_product(const up_yunet_config_t *cfg, const up_yunet_tensors_t *t, int l, int32_t i)
{
    int32_t c;
    int32_t o;
    if (cfg->input_kind == UP_INPUT_S8) {
        c = cfg->cls_lut[l][((const int8_t *)t->cls[l])[i] + 128];
        o = cfg->obj_lut[l][((const int8_t *)t->obj[l])[i] + 128];
    } else {
        c = up_prob_bits(((const int32_t *)t->cls[l])[i]);
        o = up_prob_bits(((const int32_t *)t->obj[l])[i]);
        if (c < 0 || o < 0) {
            return -1;
        }
    }
    if (c <= cfg->product_bound || o <= cfg->product_bound) {
        return c < o ? c : o;
    }
    return (int32_t)up_f32_mul_bits((uint32_t)c, (uint32_t)o);
}

/* Candidate ids keep the candidate order: level, then row, then column (each below 2^13). */
#define UP_YUNET_ID(l, r, c) (((l) << 26) | ((r) << 13) | (c))

/* a ranks before b: higher score bits, or equal and earlier candidate. */
static inline bool up_yunet_before(int32_t ka, int32_t ia, int32_t kb, int32_t ib)
{
    return ka > kb || (ka == kb && ia < ib);
}

/* Restores the heap below position i (worst at the top) over n entries. */
static void up_yunet_sift(int32_t *key, int32_t *id, int32_t n, int32_t i)
{
    for (;;) {
        int32_t w = i;
        int32_t l = 2 * i + 1;
        int32_t r = l + 1;
        if (l < n && up_yunet_before(key[w], id[w], key[l], id[l])) {
            w = l;
        }
        if (r < n && up_yunet_before(key[w], id[w], key[r], id[r])) {
            w = r;
        }
        if (w == i) {
            return;
        }
        int32_t tk = key[i];
        int32_t ti = id[i];
        key[i] = key[w];
        id[i] = id[w];
        key[w] = tk;
        id[w] = ti;
        i = w;
    }
}

static void up_yunet_heapify(int32_t *key, int32_t *id, int32_t n)
{
    for (int32_t i = n / 2 - 1; i >= 0; i--) {
        up_yunet_sift(key, id, n, i);
    }
}

/* trunc(x / 2^n) toward zero, as C's (int) of a float. */
static int32_t up_trunc_shift(int64_t x, int n)
{
    return x >= 0 ? (int32_t)(x >> n) : -(int32_t)((-x) >> n);
}

/*
 * Decode of point (l, r, c): Q12 corners and OpenCV's integer rectangle.
 * Scaling and overflow: b0, b1, the exp of b2, b3 are Q20 int32; c, r < 2^12;
 * cx = (c + b0) * s in Q20 pixels is below 2^43 in int64; x = cx - w / 2 is held
 * exactly as 2 cx - w in Q21 (below 2^39); Q12 corners are rounded half up once
 * from it and stay below 2^30.
 */
static bool up_yunet_box(const up_yunet_config_t *cfg, const up_yunet_tensors_t *t, int l, int32_t r, int32_t c,
                         int32_t box[4], int32_t rect[4])
{
    int32_t i = r * (cfg->pad_w >> (3 + l)) + c;
    int32_t v[4];
    if (cfg->input_kind == UP_INPUT_S8) {
        const int8_t *row = (const int8_t *)t->bbox[l] + (size_t)i * 4u;
        v[0] = cfg->center_lut[l][row[0] + 128];
        v[1] = cfg->center_lut[l][row[1] + 128];
        v[2] = cfg->size_lut[l][row[2] + 128];
        v[3] = cfg->size_lut[l][row[3] + 128];
    } else {
        for (int k = 0; k < 4; k++) {
            if (!up_f32_to_q20(((const int32_t *)t->bbox[l])[(size_t)i * 4u + (size_t)k], &v[k])) {
                return false;
            }
        }
        v[2] = up_exp_q20(v[2]);
        v[3] = up_exp_q20(v[3]);
    }
    int64_t s = (int64_t)8 << l;
    int32_t cell[2] = {c, r};
    for (int k = 0; k < 2; k++) {
        int64_t center_q20 = ((int64_t)cell[k] * UP_ONE_BOX + v[k]) * s;
        int64_t size_q20 = (int64_t)v[k + 2] * s;
        int64_t lo_q21 = 2 * center_q20 - size_q20;
        box[k] = (int32_t)up_rshift_round(lo_q21, 21 - UP_Q_PIXEL);
        box[k + 2] = (int32_t)up_rshift_round(lo_q21 + 2 * size_q20, 21 - UP_Q_PIXEL);
        rect[k] = up_trunc_shift(lo_q21, 21);
        rect[k + 2] = (int32_t)(size_q20 >> 20);
    }
    return true;
}

static bool up_yunet_keypoints(const up_yunet_config_t *cfg, const up_yunet_tensors_t *t, int l, int32_t r,
                               int32_t c, int32_t *kp)
{
    int32_t i = r * (cfg->pad_w >> (3 + l)) + c;
    int64_t s = (int64_t)8 << l;
    for (int k = 0; k < UP_YUNET_KPS; k++) {
        int32_t v;
        if (cfg->input_kind == UP_INPUT_S8) {
            v = cfg->kps_lut[l][((const int8_t *)t->kps[l])[(size_t)i * UP_YUNET_KPS + (size_t)k] + 128];
        } else if (!up_f32_to_q20(((const int32_t *)t->kps[l])[(size_t)i * UP_YUNET_KPS + (size_t)k], &v)) {
            return false;
        }
        int64_t q20 = ((int64_t)(k & 1 ? r : c) * UP_ONE_BOX + v) * s;
        kp[k] = (int32_t)up_rshift_round(q20, 20 - UP_Q_PIXEL);
    }
    return true;
}

/* 128-bit unsigned value as two halves. */
typedef struct {
    uint64_t hi;
    uint64_t lo;
} up_u128_t;

static up_u128_t up_mul64x64(uint64_t a, uint64_t b)
{
    uint64_t a0 = a & 0xffffffffu;
    uint64_t a1 = a >> 32;
    uint64_t b0 = b & 0xffffffffu;
    uint64_t b1 = b >> 32;
    uint64_t p00 = a0 * b0;
    uint64_t p01 = a0 * b1;
    uint64_t p10 = a1 * b0;
    uint64_t p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    up_u128_t r;
    r.lo = (p00 & 0xffffffffu) | (mid << 32);
    r.hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return r;
}

static up_u128_t up_shl128(uint64_t a, int e)
{
    up_u128_t r;
    if (e == 0) {
        r.hi = 0;
        r.lo = a;
    } else if (e < 64) {
        r.hi = a >> (64 - e);
        r.lo = a << e;
    } else {
        r.hi = a << (e - 64);
        r.lo = 0;
    }
    return r;
}

/*
 * OpenCV's suppression test of rectangle b against kept rectangle a:
 * 1.f - (float)(1.0 - I / U) > nms_threshold, with integer areas (no +1).
 * That value only grows with I / U, so it is "fl64(I / U) above the largest
 * kept double", i.e. I / U above mid (or at mid when mid rounds up): decided as
 * I * 2^e against m * U in 128 bits. Scaling: sides below 2^17, areas below
 * 2^34, e <= 100, m < 2^60: both products below 2^128.
 */
static bool up_yunet_suppresses(const up_yunet_config_t *cfg, const int32_t *a, const int32_t *b)
{
    if (cfg->iou_keep_all) {
        return false;
    }
    int32_t iw = up_min32(a[0] + a[2], b[0] + b[2]) - up_max32(a[0], b[0]);
    int32_t ih = up_min32(a[1] + a[3], b[1] + b[3]) - up_max32(a[1], b[1]);
    int64_t area_a = (int64_t)a[2] * a[3];
    int64_t area_b = (int64_t)b[2] * b[3];
    if (iw <= 0 || ih <= 0) {
        return area_a + area_b <= 0; /* no overlap: 0, kept; two empty rectangles: OpenCV's 1 */
    }
    int64_t inter = (int64_t)iw * ih; /* > 0, so area_a + area_b > 0 */
    uint64_t uni = (uint64_t)(area_a + area_b - inter);
    up_u128_t lhs = up_shl128((uint64_t)inter, cfg->iou_mid_e);
    up_u128_t rhs = up_mul64x64(cfg->iou_mid_m, uni);
    if (lhs.hi != rhs.hi) {
        return lhs.hi > rhs.hi;
    }
    if (lhs.lo != rhs.lo) {
        return lhs.lo > rhs.lo;
    }
    return !cfg->iou_mid_inclusive;
}

/* Writes output row k of candidate id (its box already decoded); false for an out-of-range keypoint. */
static bool up_yunet_emit(const up_yunet_config_t *cfg, const up_yunet_tensors_t *t, up_output_t *out, int32_t k,
                          int32_t id, int32_t key, const int32_t box[4])
{
    int l = id >> 26;
    int32_t r = (id >> 13) & 0x1fff;
    int32_t c = id & 0x1fff;
    int32_t off = 0;
    for (int j = 0; j < l; j++) {
        off += (cfg->pad_w >> (3 + j)) * (cfg->pad_h >> (3 + j));
    }
    for (int j = 0; j < 4; j++) {
        out->boxes[(size_t)k * 4u + (size_t)j] = box[j];
    }
    out->scores[k] = up_f32_to_q30((uint32_t)key);
    out->anchors[k] = off + r * (cfg->pad_w >> (3 + l)) + c;
    return up_yunet_keypoints(cfg, t, l, r, c, out->keypoints + (size_t)k * UP_YUNET_KPS);
}

static bool up_yunet_decode_id(const up_yunet_config_t *cfg, const up_yunet_tensors_t *t, int32_t id,
                               int32_t box[4], int32_t rect[4])
{
    return up_yunet_box(cfg, t, id >> 26, (id >> 13) & 0x1fff, id & 0x1fff, box, rect);
}

int32_t up_yunet_run(const up_yunet_config_t *cfg, const up_yunet_tensors_t *t, void *scratch,
                     size_t scratch_size, up_output_t *out)
{
    int32_t status = up_yunet_check_config(cfg);
    if (status != UP_OK) {
        return status;
    }
    if (!t || !out || !out->boxes || !out->scores || !out->anchors || !out->keypoints || !scratch) {
        return UP_ERR_NULL;
    }
    for (int l = 0; l < UP_YUNET_LEVELS; l++) {
        if (!t->cls[l] || !t->obj[l] || !t->bbox[l] || !t->kps[l]) {
            return UP_ERR_NULL;
        }
    }
    if (out->capacity < cfg->max_detections) {
        return UP_ERR_OUTPUT;
    }
    if (scratch_size < (size_t)cfg->top_k * 8u + (size_t)cfg->max_detections * 16u || ((uintptr_t)scratch & 3u)) {
        return UP_ERR_SCRATCH;
    }
    int32_t limit = cfg->top_k;
    int32_t *key = (int32_t *)scratch;
    int32_t *id = key + limit;
    int32_t *rects = id + limit;
    int32_t held = 0;
    bool heap = false;
    int32_t count = 0; /* candidates: score >= threshold */
    int32_t first_id = 0;
    int32_t first_key = 0;
    for (int l = 0; l < UP_YUNET_LEVELS; l++) {
        int32_t cols = cfg->pad_w >> (3 + l);
        int32_t rows = cfg->pad_h >> (3 + l);
        int32_t i = 0;
        for (int32_t r = 0; r < rows; r++) {
            for (int32_t c = 0; c < cols; c++, i++) {
                int32_t p = up_yunet_product(cfg, t, l, i);
                if (p < 0) {
                    return UP_ERR_NONFINITE;
                }
                if (p <= cfg->product_bound) {
                    continue;
                }
                int32_t k = (int32_t)up_f32_sqrt_bits((uint32_t)p);
                int32_t cid = UP_YUNET_ID(l, r, c);
                if (count++ == 0) {
                    first_id = cid;
                    first_key = k;
                }
                if (k <= cfg->nms_bound) {
                    continue;
                }
                if (held < limit) {
                    key[held] = k;
                    id[held] = cid;
                    held++;
                    continue;
                }
                if (!heap) {
                    up_yunet_heapify(key, id, held);
                    heap = true;
                }
                if (up_yunet_before(k, cid, key[0], id[0])) {
                    key[0] = k;
                    id[0] = cid;
                    up_yunet_sift(key, id, held, 0);
                }
            }
        }
    }
    int32_t box[4];
    if (count == 1 && cfg->lone_rule) {
        if (!up_yunet_decode_id(cfg, t, first_id, box, rects) || !up_yunet_emit(cfg, t, out, 0, first_id, first_key, box)) {
            return UP_ERR_RANGE;
        }
        out->count = 1;
        return UP_OK;
    }
    /* Best first: heap sort (the worst goes to the end each round). */
    if (!heap) {
        up_yunet_heapify(key, id, held);
    }
    for (int32_t n = held; n > 1; n--) {
        int32_t tk = key[0];
        int32_t ti = id[0];
        key[0] = key[n - 1];
        id[0] = id[n - 1];
        key[n - 1] = tk;
        id[n - 1] = ti;
        up_yunet_sift(key, id, n - 1, 0);
    }
    int32_t kept = 0;
    for (int32_t i = 0; i < held && kept < cfg->max_detections; i++) {
        int32_t *rect = rects + (size_t)kept * 4u;
        if (!up_yunet_decode_id(cfg, t, id[i], box, rect)) {
            return UP_ERR_RANGE;
        }
        bool suppressed = false;
        for (int32_t j = 0; j < kept && !suppressed; j++) {
            suppressed = up_yunet_suppresses(cfg, rects + (size_t)j * 4u, rect);
        }
        if (!suppressed) {
            if (!up_yunet_emit(cfg, t, out, kept, id[i], key[i], box)) {
                return UP_ERR_RANGE;
            }
            kept++;
        }
    }
    out->count = kept;
    return UP_OK;
}
