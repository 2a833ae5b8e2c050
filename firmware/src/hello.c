/*
 * Board bring-up check: reads a host file through semihosting and writes a
 * transformed copy back, proving startup, .data/.bss, file I/O in both
 * directions and the exit status.
 *
 * usage (semihosting args): hello IN OUT
 *                            hello fault     (reads unmapped memory, then traps)
 *                            hello overflow  (recurses past the stack)
 *                            hello hang      (never returns)
 * fault and overflow check that a crash ends the run with a fault status
 * instead of a hang or a silent success; hang checks that the host side
 * bounds every run.
 *
 * The IN OUT run also calls probe(len(IN) + 1) once: it executes exactly
 * 2 * (len(IN) + 1) + 1 instructions, a known answer for the instruction
 * counter of src/ultrapost/firmware.py.
 * OUT = "UPHELLO1", u32 length, the input bytes each XOR 0x5A, u32 FNV-1a of
 * the input, u32 initialised-data word, u32 stack bytes used (all LE).
 */
#include <stdbool.h>
#include <stdint.h>

#include "fw_runtime.h"
#include "semihost.h"

__attribute__((section(".io"))) static uint8_t io_buf[4096];
static volatile uint32_t data_word = 0x1234ABCDu; /* checks the .data copy */
static volatile uint32_t bss_word;                /* checks the .bss clear */

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static bool same(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* Each level keeps 64 live bytes on the stack; the volatile frame is read
 * after the call returns, so the compiler cannot turn this into a loop. */
__attribute__((noinline)) static uint32_t recurse(uint32_t depth)
{
    volatile uint32_t frame[16];
    frame[depth & 15u] = depth;
    if (depth != 0u) {
        frame[(depth + 1u) & 15u] = recurse(depth - 1u);
    }
    return frame[(depth + 1u) & 15u];
}

/* n >= 1: "subs; bne" n times, then "bx lr": 2 * n + 1 instructions. */
__attribute__((naked, noinline)) static void probe(uint32_t n)
{
    (void)n;
    __asm__ volatile(
        ".syntax unified\n\t"
        "1:\n\t"
        "subs r0, r0, #1\n\t"
        "bne 1b\n\t"
        "bx lr\n\t");
}

int main(void)
{
    static char cmd[256];
    char *argv[4];
    int32_t argc = sh_args(cmd, sizeof(cmd), argv, 4);
    if (argc == 2 && same(argv[1], "fault")) {
        /* Unmapped on the MPS2 boards (a BusFault); qemu's micro:bit reads it
         * as zero, so an undefined instruction follows. */
        uint32_t v = *(volatile uint32_t *)0xF0000000u;
        __builtin_trap();
        return (int32_t)v;
    }
    if (argc == 2 && same(argv[1], "overflow")) {
        return (int32_t)recurse(fw_stack_size());
    }
    if (argc == 2 && same(argv[1], "hang")) {
        for (;;) {
            __asm__ volatile("" ::: "memory");
        }
    }
    if (argc != 3) {
        sh_puts("usage: hello IN OUT\n");
        return FW_EXIT_USAGE;
    }
    if (bss_word != 0u) {
        return FW_EXIT_FAULT;
    }
    int32_t fd = sh_open(argv[1], "rb");
    if (fd < 0) {
        sh_puts("hello: cannot open input\n");
        return FW_EXIT_IO;
    }
    int32_t n = sh_flen(fd);
    if (n < 0 || (uint32_t)n + 24u > sizeof(io_buf)) {
        sh_puts("hello: input too large\n");
        return FW_EXIT_IO;
    }
    uint8_t *body = io_buf + 12;
    if (sh_read_exact(fd, body, (size_t)n) != 0) {
        return FW_EXIT_IO;
    }
    sh_close(fd);
    probe((uint32_t)n + 1u);

    uint32_t h = 2166136261u;
    for (int32_t i = 0; i < n; i++) {
        h = (h ^ body[i]) * 16777619u;
        body[i] ^= 0x5Au;
    }
    const uint8_t magic[8] = {'U', 'P', 'H', 'E', 'L', 'L', 'O', '1'};
    for (int32_t i = 0; i < 8; i++) {
        io_buf[i] = magic[i];
    }
    put_u32(io_buf + 8, (uint32_t)n);
    put_u32(body + n, h);
    put_u32(body + n + 4, data_word);
    put_u32(body + n + 8, fw_stack_used());

    fd = sh_open(argv[2], "wb");
    if (fd < 0 || sh_write_all(fd, io_buf, (size_t)n + 24u) != 0) {
        sh_puts("hello: cannot write output\n");
        return FW_EXIT_IO;
    }
    sh_close(fd);
    sh_puts("hello: ok\n");
    return FW_EXIT_OK;
}
