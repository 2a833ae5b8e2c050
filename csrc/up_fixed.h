/*
 * Inline fixed-point helpers shared by the core's stages (mirrored by
 * src/ultrapost/golden.py). One rounding rule everywhere: add half, then
 * arithmetic shift right (round half up).
 */
#ifndef UP_FIXED_H
#define UP_FIXED_H

#include <stdint.h>

/* The core relies on arithmetic right shifts of negative values (as GCC, Clang,
 * Arm and IAR compilers do); refuse to build where that does not hold. */
typedef char up_arithmetic_shift_check[((-1) >> 1) == -1 ? 1 : -1];

/* Keeps a function out of line where that keeps a large frame off the common call chain. */
#if defined(__GNUC__)
#define UP_NOINLINE __attribute__((noinline))
#else
#define UP_NOINLINE
#endif

/* Constants of up_exp_q20 (up_fixed.c), shared with vector versions of it (which must give the same bits). */
#define UP_LOG2E_Q30 1549082005 /* log2(e) */
#define UP_LN2_Q30 744261118    /* ln(2) */
#define UP_SIXTH_Q30 178956971  /* 1/6 */
extern const int32_t up_exp2_q30[64]; /* 2^(i/64) in Q30 */

/* x / 2^n rounded half up, n in 1..62. */
static inline int64_t up_rshift_round(int64_t x, int n)
{
    return (x + ((int64_t)1 << (n - 1))) >> n;
}

static inline int32_t up_sat32(int64_t x)
{
    return x > INT32_MAX ? INT32_MAX : (x < INT32_MIN ? INT32_MIN : (int32_t)x);
}

static inline int32_t up_clamp32(int64_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : (int32_t)x);
}

static inline int32_t up_max32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

static inline int32_t up_min32(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

#endif /* UP_FIXED_H */
