/*
 * Arm semihosting, the few calls the firmware needs: host files, console,
 * command line and exit status. Each call is "bkpt 0xab" with the operation
 * in r0 and a parameter block in r1; qemu serves them with
 * -semihosting-config enable=on,target=native.
 *
 * Written against the semihosting spec directly (not newlib's librdimon) so
 * the image links no stdio, no malloc and no startup code of its own.
 */
#ifndef FW_SEMIHOST_H
#define FW_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes of the firmware images, shared with src/ultrapost/firmware.py. */
#define FW_EXIT_OK 0
#define FW_EXIT_USAGE 2     /* bad command line */
#define FW_EXIT_IO 3        /* a host file could not be opened, read or written */
#define FW_EXIT_FORMAT 4    /* the vector file is malformed */
#define FW_EXIT_GUARD 5     /* a guard word around an output or scratch buffer changed */
#define FW_EXIT_CONFIG 6    /* a compiled-in config failed up_check_config */
#define FW_EXIT_INPUT 7     /* up_run wrote to its const input */
#define FW_EXIT_FAULT 8     /* HardFault / MemManage / BusFault / UsageFault */
#define FW_EXIT_STACK 9     /* stack overflow caught by MSPLIM (ARMv8-M) */
#define FW_EXIT_MEMORY 10   /* a record needs more memory than the image reserves */

/* Opens a host file; mode "rb" or "wb". Returns a handle >= 0 or -1. */
int32_t sh_open(const char *path, const char *mode);
int32_t sh_close(int32_t fd);
/* Reads exactly n bytes; returns 0, or -1 on a short read or error. */
int32_t sh_read_exact(int32_t fd, void *buf, size_t n);
/* Writes exactly n bytes; returns 0 or -1. */
int32_t sh_write_all(int32_t fd, const void *buf, size_t n);
/* Length of an open file in bytes, or -1. */
int32_t sh_flen(int32_t fd);
/* Writes a NUL-terminated string to the host console (qemu's stdout/stderr). */
void sh_puts(const char *s);
/* Writes a message, a decimal value and a newline. */
void sh_put_value(const char *label, int32_t value);
/* Copies the command line (semihosting arg=... values, space separated) into buf. */
int32_t sh_cmdline(char *buf, size_t size);
/* Splits the command line in place on spaces; returns argc (at most max) or -1. */
int32_t sh_args(char *buf, size_t size, char **argv, int32_t max);
/* Ends the emulation with this process exit status (SYS_EXIT_EXTENDED). */
__attribute__((noreturn)) void sh_exit(int32_t code);

#endif /* FW_SEMIHOST_H */
