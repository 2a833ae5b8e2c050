/* Arm semihosting calls (see semihost.h). */
#include "semihost.h"

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE0 0x04
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_FLEN 0x0C
#define SYS_GET_CMDLINE 0x15
#define SYS_EXIT 0x18
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static int32_t sh_call(int32_t op, const void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    /* "memory": the host reads and writes the blocks r1 points to. */
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static size_t cstrlen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

int32_t sh_open(const char *path, const char *mode)
{
    /* Mode numbers index the ISO C fopen strings: "rb" is 1, "wb" is 5. */
    uint32_t m = (mode[0] == 'w') ? 5u : 1u;
    uint32_t block[3] = {(uint32_t)(uintptr_t)path, m, (uint32_t)cstrlen(path)};
    return sh_call(SYS_OPEN, block);
}

int32_t sh_close(int32_t fd)
{
    uint32_t block[1] = {(uint32_t)fd};
    return sh_call(SYS_CLOSE, block);
}

int32_t sh_read_exact(int32_t fd, void *buf, size_t n)
{
    uint32_t block[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)buf, (uint32_t)n};
    /* SYS_READ returns the number of bytes NOT read. */
    return sh_call(SYS_READ, block) == 0 ? 0 : -1;
}

int32_t sh_write_all(int32_t fd, const void *buf, size_t n)
{
    uint32_t block[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)buf, (uint32_t)n};
    return sh_call(SYS_WRITE, block) == 0 ? 0 : -1;
}

int32_t sh_flen(int32_t fd)
{
    uint32_t block[1] = {(uint32_t)fd};
    return sh_call(SYS_FLEN, block);
}

void sh_puts(const char *s)
{
    sh_call(SYS_WRITE0, s);
}

void sh_put_value(const char *label, int32_t value)
{
    char buf[16];
    size_t i = sizeof(buf) - 1;
    /* Negate in unsigned so INT32_MIN prints correctly. */
    uint32_t v = value < 0 ? 0u - (uint32_t)value : (uint32_t)value;
    buf[i] = '\0';
    buf[--i] = '\n';
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    if (value < 0) {
        buf[--i] = '-';
    }
    sh_puts(label);
    sh_puts(&buf[i]);
}

int32_t sh_cmdline(char *buf, size_t size)
{
    uint32_t block[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)size};
    return sh_call(SYS_GET_CMDLINE, block);
}

int32_t sh_args(char *buf, size_t size, char **argv, int32_t max)
{
    if (sh_cmdline(buf, size) != 0) {
        return -1;
    }
    int32_t argc = 0;
    char *p = buf;
    while (*p != '\0' && argc < max) {
        while (*p == ' ') {
            *p++ = '\0';
        }
        if (*p == '\0') {
            break;
        }
        argv[argc++] = p;
        while (*p != '\0' && *p != ' ') {
            p++;
        }
    }
    return argc;
}

void sh_exit(int32_t code)
{
    /* Plain SYS_EXIT on AArch32 carries no status (qemu maps it to 0 or 1);
     * SYS_EXIT_EXTENDED passes the code through as qemu's exit status. */
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    sh_call(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}
