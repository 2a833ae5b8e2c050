/*
 * The IoU test, exact for the float64 value of the threshold.
 *
 * The host gives t as iou_num / 2^iou_shift, exactly (a float64 is such a dyadic rational: iou_num <= 2^53,
 * iou_shift <= 1100), and iou_q16 = floor(t * 2^16), a lower bound of t. IoU = inter / union (areas with the
 * pads, union + iou_eps) exceeds t when inter * 2^iou_shift > iou_num * union. A Q16 bracket in int64 settles every
 * pair whose IoU lies outside [floor(t 2^16) / 2^16, (floor(t 2^16) + 1) / 2^16); the few inside it are decided on
 * 128-bit integers made of 32-bit limbs (no libc, no 64-bit division).
 */
#include "up_internal.h"

/* Product of a, b < 2^64 as hi:lo, from four 32x32->64 products. */
static void up_mul_64x64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10; /* below 3 * 2^32 */
    *lo = (mid << 32) | (uint32_t)p00;
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* inter * 2^shift > num * uni, exactly, for inter >= 1, shift >= 0: inter * 2^shift at or above 2^128 exceeds any
 * 64x64-bit product. */
bool up_exceeds_exact(uint64_t inter, uint64_t uni, uint64_t num, int32_t shift)
{
    uint64_t rhi, rlo, lhi, llo;
    up_mul_64x64(num, uni, &rhi, &rlo);
    if (shift >= 128) {
        return true;
    }
    if (shift >= 64) {
        int32_t s = shift - 64;
        if (s > 0 && (inter >> (64 - s)) != 0) {
            return true;
        }
        lhi = inter << s;
        llo = 0;
    } else {
        llo = inter << shift;
        lhi = shift > 0 ? inter >> (64 - shift) : 0;
    }
    return lhi > rhi || (lhi == rhi && llo > rlo);
}

int32_t up_check_iou(const up_config_t *cfg)
{
    int64_t num = cfg->iou_num;
    int32_t shift = cfg->iou_shift;
    if (cfg->iou_q16 < 0 || cfg->iou_q16 > (1 << UP_Q_IOU)) {
        return UP_ERR_CONFIG;
    }
    if (num == 0 && shift == 0) {
        return UP_OK;
    }
    if (num < 0 || num > ((int64_t)1 << 53) || shift < 0 || shift > UP_MAX_IOU_SHIFT ||
        (shift < 53 && num > ((int64_t)1 << shift))) {
        return UP_ERR_CONFIG; /* t outside [0, 1], or not a float64 */
    }
    /* floor(t * 2^16): num << (16 - shift) <= 2^16 since t <= 1 */
    uint64_t q = shift <= 16 ? (uint64_t)num << (16 - shift)
                             : (shift - 16 < 64 ? (uint64_t)num >> (shift - 16) : 0u);
    return q == (uint64_t)cfg->iou_q16 ? UP_OK : UP_ERR_CONFIG;
}

/*
 * Scaling and overflow: corners are Q20 within +-4.0 (2^22) and pads at most 1.0, so padded widths fit int32
 * (below 2^23 + 2^20); for two overlapping boxes the union lies inside their padded bounding square: below
 * 2^46.34 + eps (eps <= 2^40), so inter * 2^16 and (iou_q16 + 1) * union (iou_q16 <= 2^16) stay below 2^63.
 */
bool up_iou_exceeds(const up_config_t *cfg, const int32_t *a, const int32_t *b)
{
    int32_t iw = up_min32(a[2], b[2]) - up_max32(a[0], b[0]) + cfg->pad_x_q20;
    if (iw <= 0) {
        return false;
    }
    int32_t ih = up_min32(a[3], b[3]) - up_max32(a[1], b[1]) + cfg->pad_y_q20;
    if (ih <= 0) {
        return false;
    }
    int64_t inter = (int64_t)iw * ih;
    int64_t uni = (int64_t)up_extent(a[0], a[2], cfg->pad_x_q20) * up_extent(a[1], a[3], cfg->pad_y_q20);
    uni += (int64_t)up_extent(b[0], b[2], cfg->pad_x_q20) * up_extent(b[1], b[3], cfg->pad_y_q20);
    uni += cfg->iou_eps_q40 - inter;
    int64_t lhs = inter * 65536;
    int64_t lo = (int64_t)cfg->iou_q16 * uni;
    if (lhs <= lo) {
        return false; /* IoU <= floor(t 2^16) / 2^16 <= t */
    }
    if (lhs - lo >= uni) {
        return true; /* IoU >= (floor(t 2^16) + 1) / 2^16 > t */
    }
    if (cfg->iou_num == 0 && cfg->iou_shift == 0) {
        return true; /* a config without the exact threshold: t = iou_q16 / 2^16 */
    }
    return up_exceeds_exact((uint64_t)inter, (uint64_t)uni, (uint64_t)cfg->iou_num, cfg->iou_shift);
}
