/* Integer exp and sigmoid for fixed-point inputs (int8 inputs use host-built tables instead). */
#include "ultrapost.h"
#include "up_fixed.h"

/* 2^(i/64) in Q30, i = 0..63, rounded to nearest. */
const int32_t up_exp2_q30[64] = {
    1073741824, 1085434106, 1097253708, 1109202018, 1121280436, 1133490379,
    1145833280, 1158310587, 1170923762, 1183674286, 1196563654, 1209593378,
    1222764986, 1236080024, 1249540052, 1263146652, 1276901417, 1290805962,
    1304861917, 1319070932, 1333434672, 1347954824, 1362633090, 1377471191,
    1392470869, 1407633882, 1422962010, 1438457051, 1454120821, 1469955159,
    1485961921, 1502142985, 1518500250, 1535035634, 1551751076, 1568648537,
    1585730000, 1602997467, 1620452965, 1638098541, 1655936265, 1673968228,
    1692196547, 1710623359, 1729250827, 1748081133, 1767116489, 1786359126,
    1805811301, 1825475297, 1845353420, 1865448001, 1885761398, 1906295993,
    1927054196, 1948038440, 1969251188, 1990694927, 2012372174, 2034285470,
    2056437387, 2078830522, 2101467502, 2124350982,
};

/*
 * exp(x) for x in Q20; result Q20, saturated to INT32_MAX (exp(x) >= 2048,
 * x >= 7.62) and 0 below half an LSB.
 * Scaling and overflow: y = x * log2(e) in Q50 (|y| < 2^62); y = k + f with
 * k = floor(y); 2^f = table[top 6 bits of f] * 2^g with g < 1/64 from a cubic
 * series in Q30 (truncation error < 6e-10 relative). Products are int64 with
 * operands below 2^31. Error: at most 0.5 LSB of the Q20 result plus 2^-28
 * relative.
 */
int32_t up_exp_q20(int32_t x_q20)
{
    int64_t y_q50 = (int64_t)x_q20 * UP_LOG2E_Q30;
    int64_t k = y_q50 >> 50; /* floor */
    uint64_t f_q50 = (uint64_t)y_q50 & (((uint64_t)1 << 50) - 1u);
    if (k >= 11) {
        return INT32_MAX;
    }
    if (k < -22) {
        return 0;
    }
    int32_t i = (int32_t)(f_q50 >> 44);
    int64_t g_q30 = (int64_t)((f_q50 >> 20) & ((1u << 24) - 1u));
    int64_t u_q30 = up_rshift_round(g_q30 * UP_LN2_Q30, 30);
    int64_t u2_q30 = up_rshift_round(u_q30 * u_q30, 30);
    int64_t u3_q30 = up_rshift_round(u2_q30 * u_q30, 30);
    int64_t p_q30 = ((int64_t)1 << 30) + u_q30 + up_rshift_round(u2_q30, 1) +
                    up_rshift_round(u3_q30 * UP_SIXTH_Q30, 30);
    int64_t m_q30 = up_rshift_round((int64_t)up_exp2_q30[i] * p_q30, 30); /* [1, 2) */
    int shift = 10 - (int)k; /* Q30 * 2^k -> Q20: 0..32 */
    int64_t r = shift > 0 ? up_rshift_round(m_q30, shift) : m_q30;
    return r > INT32_MAX ? INT32_MAX : (int32_t)r;
}

/*
 * 1 / (1 + exp(-x)) for x in Q20; result Q30 in [0, 2^30].
 * Computed for -|x| as 2^50 / (2^20 + exp_q20(-|x|)) by shift-and-subtract
 * (no 64-bit division helper on targets without one), mirrored for x < 0.
 * Error: at most 2^-21 + 2^-30 absolute (half a Q20 LSB of exp, then the
 * rounded division).
 */
int32_t up_sigmoid_q30(int32_t x_q20)
{
    int32_t neg_abs = x_q20 > 0 ? -x_q20 : x_q20;
    uint64_t den = ((uint64_t)1 << 20) + (uint64_t)up_exp_q20(neg_abs);
    uint64_t num = ((uint64_t)1 << 50) + (den >> 1);
    uint32_t q = 0;
    for (int bit = 30; bit >= 0; bit--) {
        uint64_t d = den << bit;
        if (d <= num) {
            num -= d;
            q |= (uint32_t)1 << bit;
        }
    }
    /* q = round(2^50 / den) = sigmoid(|x|) in Q30 */
    return x_q20 >= 0 ? (int32_t)q : (int32_t)((1u << 30) - q);
}
