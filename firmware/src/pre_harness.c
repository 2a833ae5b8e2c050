/*
 * Pre-processing runner: runs up_pre_run on every frame record of a host file
 * and writes each input tensor back, through semihosting. The formats
 * (UPPRE001 frames, UPPRO001 tensors, UPSTA001 stats) are specified in
 * firmware/README.md and read/written by src/ultrapost/firmware/preformats.py.
 *
 * usage (semihosting args): preharness FRAMES TENSORS [STATS]
 *
 * The configs are compiled in: pre_configs.h (generated, as `ultrapost codegen
 * --preprocess` writes each one) provides UP_FW_NUM_PRE_CONFIGS,
 * up_fw_pre_configs[] and up_fw_pre_config_names[].
 *
 * As in harness.c: the tensor and the scratch are carved from a static arena,
 * fenced by guard words and pre-filled with a per-record pattern; the frame is
 * checksummed before and after the run (it is const).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_runtime.h"
#include "pre_configs.h"
#include "semihost.h"
#include "ultrapost.h"

#ifndef FW_IO_BYTES
#error "FW_IO_BYTES must be defined by the build"
#endif
#ifndef FW_ARENA_BYTES
#error "FW_ARENA_BYTES must be defined by the build"
#endif

#define PRE_MAGIC "UPPRE001"
#define PRO_MAGIC "UPPRO001"
#define STA_MAGIC "UPSTA001"
#define FILE_HEADER_BYTES 16u
#define RECORD_HEADER_WORDS 8u
#define GUARD_WORDS 8u
#define GUARD_BASE 0xBB67AE85u

__attribute__((section(".io"), aligned(8))) static uint8_t io_data[FW_IO_BYTES];
__attribute__((aligned(8))) static uint8_t arena[FW_ARENA_BYTES];

typedef struct {
    uint32_t config_id;
    int32_t width;
    int32_t height;
    int32_t stride_bytes;
    uint32_t data_bytes;
    int32_t scratch_bytes; /* -1: up_pre_scratch_size(cfg) */
    int32_t out_bytes;     /* -1: the config's tensor size */
    uint32_t reserved;
} pre_record_t;

typedef struct {
    uint32_t *before;
    uint8_t *data;
    uint32_t *after;
    uint32_t bytes;
    const char *name;
} fenced_t;

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

__attribute__((noreturn)) static void fail(int32_t code, const char *what, uint32_t record)
{
    sh_puts("preharness: ");
    sh_puts(what);
    sh_put_value(", record ", (int32_t)record);
    sh_exit(code);
}

static uint32_t guard_word(uint32_t record, uint32_t i)
{
    return (GUARD_BASE ^ (record * 0x9E3779B9u)) + i * 0x01000193u;
}

static bool carve(fenced_t *f, uint32_t *offset, uint32_t bytes, const char *name)
{
    uint32_t rounded = (bytes + 7u) & ~7u;
    uint32_t need = 2u * GUARD_WORDS * 4u + rounded;
    if (rounded < bytes || *offset > FW_ARENA_BYTES || need > FW_ARENA_BYTES - *offset) {
        return false;
    }
    f->before = (uint32_t *)(void *)(arena + *offset);
    f->data = arena + *offset + GUARD_WORDS * 4u;
    f->after = (uint32_t *)(void *)(f->data + rounded);
    f->bytes = rounded;
    f->name = name;
    *offset += need;
    return true;
}

static void fence_fill(const fenced_t *f, uint32_t record, uint8_t fill)
{
    for (uint32_t i = 0; i < GUARD_WORDS; i++) {
        f->before[i] = guard_word(record, i);
        f->after[i] = guard_word(record, i + GUARD_WORDS);
    }
    uint32_t *words = (uint32_t *)(void *)f->data;
    for (uint32_t i = 0; i < f->bytes / 4u; i++) {
        words[i] = fill * 0x01010101u;
    }
}

static bool fence_intact(const fenced_t *f, uint32_t record)
{
    for (uint32_t i = 0; i < GUARD_WORDS; i++) {
        if (f->before[i] != guard_word(record, i) || f->after[i] != guard_word(record, i + GUARD_WORDS)) {
            return false;
        }
    }
    return true;
}

static uint32_t fnv1a(const uint8_t *p, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

static uint32_t read_sp(void)
{
    uint32_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

/* The one call site of up_pre_run in the image (its instructions are counted from the entry to this call's return
 * address); noinline keeps that return address unique and the stack measure exact. */
__attribute__((noinline)) static int32_t run_one(const up_pre_config_t *cfg, const pre_record_t *h,
                                                 const fenced_t *scratch, const fenced_t *out,
                                                 uint32_t *stack_bytes)
{
    uint32_t sp = read_sp();
    fw_stack_paint();
    int32_t status = up_pre_run(cfg, io_data, h->width, h->height, h->stride_bytes, scratch->data,
                                (size_t)scratch->bytes, out->data, (size_t)out->bytes);
    *stack_bytes = sp - (uint32_t)fw_stack_low_water();
    return status;
}

static void read_record(int32_t fd, pre_record_t *h, uint32_t record)
{
    uint8_t raw[RECORD_HEADER_WORDS * 4u];
    if (sh_read_exact(fd, raw, sizeof(raw)) != 0) {
        fail(FW_EXIT_FORMAT, "frame file truncated in a record header", record);
    }
    h->config_id = get_u32(raw);
    h->width = (int32_t)get_u32(raw + 4);
    h->height = (int32_t)get_u32(raw + 8);
    h->stride_bytes = (int32_t)get_u32(raw + 12);
    h->data_bytes = get_u32(raw + 16);
    h->scratch_bytes = (int32_t)get_u32(raw + 20);
    h->out_bytes = (int32_t)get_u32(raw + 24);
    h->reserved = get_u32(raw + 28);
    if (h->config_id >= (uint32_t)UP_FW_NUM_PRE_CONFIGS) {
        fail(FW_EXIT_FORMAT, "config id not compiled into this image", record);
    }
    if (h->width < 1 || h->height < 1 || h->stride_bytes < 1 || h->scratch_bytes < -1 || h->out_bytes < -1
        || h->reserved != 0u) {
        fail(FW_EXIT_FORMAT, "bad frame size, stride, scratch or output size, or reserved word", record);
    }
    /* The core reads rows 0..height-1, stride_bytes apart, of width pixels: they must lie in the data (a stride
     * below the row is the core's UP_ERR_STRIDE to report, which records may test). */
    const up_pre_config_t *cfg = up_fw_pre_configs[h->config_id];
    uint32_t bpp = cfg->pixel_format == UP_PIX_RGBA8888 ? 4u
                   : cfg->pixel_format == UP_PIX_GRAY8  ? 1u
                   : (cfg->pixel_format == UP_PIX_RGB565 || cfg->pixel_format == UP_PIX_YUYV) ? 2u
                                                                                              : 3u;
    uint64_t row = (uint64_t)(uint32_t)h->width * bpp;
    uint64_t end = (uint64_t)(uint32_t)(h->height - 1) * (uint32_t)h->stride_bytes + row;
    if ((uint64_t)(uint32_t)h->stride_bytes >= row && end > h->data_bytes) {
        fail(FW_EXIT_FORMAT, "frame rows extend beyond the record's data", record);
    }
}

static void write_or_fail(int32_t fd, const void *p, uint32_t n, uint32_t record)
{
    if (sh_write_all(fd, p, n) != 0) {
        fail(FW_EXIT_IO, "cannot write an output file", record);
    }
}

int main(void)
{
    static char cmd[256];
    char *argv[5];
    int32_t argc = sh_args(cmd, sizeof(cmd), argv, 5);
    if (argc != 3 && argc != 4) {
        sh_puts("usage: preharness FRAMES TENSORS [STATS]\n");
        return FW_EXIT_USAGE;
    }
    for (uint32_t c = 0; c < (uint32_t)UP_FW_NUM_PRE_CONFIGS; c++) {
        int32_t status = up_pre_check_config(up_fw_pre_configs[c]);
        if (status != UP_OK) {
            sh_puts("preharness: config ");
            sh_puts(up_fw_pre_config_names[c]);
            sh_put_value(" fails up_pre_check_config: ", status);
            return FW_EXIT_CONFIG;
        }
    }
    int32_t fin = sh_open(argv[1], "rb");
    if (fin < 0) {
        sh_puts("preharness: cannot open the frame file\n");
        return FW_EXIT_IO;
    }
    uint8_t header[FILE_HEADER_BYTES];
    bool magic_ok = sh_read_exact(fin, header, sizeof(header)) == 0;
    for (uint32_t i = 0; magic_ok && i < 8u; i++) {
        magic_ok = header[i] == (uint8_t)PRE_MAGIC[i];
    }
    if (!magic_ok || get_u32(header + 12) != 0u) {
        sh_puts("preharness: not a frame file (magic " PRE_MAGIC ")\n");
        return FW_EXIT_FORMAT;
    }
    uint32_t num_records = get_u32(header + 8);
    int32_t fout = sh_open(argv[2], "wb");
    int32_t fsta = argc == 4 ? sh_open(argv[3], "wb") : 0;
    if (fout < 0 || fsta < 0) {
        sh_puts("preharness: cannot create an output file\n");
        return FW_EXIT_IO;
    }
    for (uint32_t i = 0; i < 8u; i++) {
        header[i] = (uint8_t)PRO_MAGIC[i];
    }
    write_or_fail(fout, header, FILE_HEADER_BYTES, 0u);
    if (argc == 4) {
        for (uint32_t i = 0; i < 8u; i++) {
            header[i] = (uint8_t)STA_MAGIC[i];
        }
        write_or_fail(fsta, header, FILE_HEADER_BYTES, 0u);
    }

    for (uint32_t r = 0; r < num_records; r++) {
        pre_record_t h;
        read_record(fin, &h, r);
        const up_pre_config_t *cfg = up_fw_pre_configs[h.config_id];
        uint32_t padded = (h.data_bytes + 3u) & ~3u;
        if (padded < h.data_bytes || padded > FW_IO_BYTES) {
            fail(FW_EXIT_MEMORY, "frame data larger than FW_IO_BYTES", r);
        }
        if (sh_read_exact(fin, io_data, padded) != 0) {
            fail(FW_EXIT_FORMAT, "frame file truncated in record data", r);
        }
        size_t scratch_size = up_pre_scratch_size(cfg);
        uint32_t tensor = (uint32_t)cfg->out_width * (uint32_t)cfg->out_height * 3u * cfg->out_bytes;
        uint32_t scratch_need = h.scratch_bytes < 0 ? (uint32_t)scratch_size : (uint32_t)h.scratch_bytes;
        uint32_t out_need = h.out_bytes < 0 ? tensor : (uint32_t)h.out_bytes;
        fenced_t scratch, out;
        uint32_t offset = 0;
        if (!(carve(&out, &offset, out_need, "tensor") && carve(&scratch, &offset, scratch_need, "scratch"))) {
            fail(FW_EXIT_MEMORY, "tensor and scratch larger than FW_ARENA_BYTES", r);
        }
        uint8_t fill = (uint8_t)(0xA5u + 29u * r);
        fence_fill(&out, r, fill);
        fence_fill(&scratch, r, (uint8_t)~fill);
        scratch.bytes = scratch_need; /* exactly what was asked for, not the 8-byte rounding */
        out.bytes = out_need;

        uint32_t input_hash = fnv1a(io_data, h.data_bytes);
        uint32_t stack_bytes = 0;
        int32_t status = run_one(cfg, &h, &scratch, &out, &stack_bytes);
        if (!fence_intact(&out, r) || !fence_intact(&scratch, r)) {
            sh_puts("preharness: guard overwritten around the tensor or the scratch");
            sh_put_value(", record ", (int32_t)r);
            return FW_EXIT_GUARD;
        }
        if (fnv1a(io_data, h.data_bytes) != input_hash) {
            fail(FW_EXIT_INPUT, "the run modified its const frame", r);
        }
        uint32_t written = status == UP_OK ? tensor : 0u;
        uint8_t rec[8];
        put_u32(rec, (uint32_t)status);
        put_u32(rec + 4, written);
        write_or_fail(fout, rec, sizeof(rec), r);
        write_or_fail(fout, out.data, written, r);
        if (written & 3u) {
            static const uint8_t zeros[4] = {0, 0, 0, 0};
            write_or_fail(fout, zeros, 4u - (written & 3u), r);
        }
        if (argc == 4) {
            uint8_t st[16];
            put_u32(st, stack_bytes);
            put_u32(st + 4, scratch_need);
            put_u32(st + 8, (uint32_t)scratch_size);
            put_u32(st + 12, 0u);
            write_or_fail(fsta, st, sizeof(st), r);
        }
    }
    uint8_t extra;
    if (sh_read_exact(fin, &extra, 1u) == 0) {
        sh_puts("preharness: trailing bytes after the last record\n");
        return FW_EXIT_FORMAT;
    }
    sh_close(fin);
    sh_close(fout);
    if (argc == 4) {
        sh_close(fsta);
    }
    return FW_EXIT_OK;
}
