/*
 * Vector runner: runs up_run (up_run_keypoints for a record whose keypoints
 * are rows of their own; up_yunet_run for a YuNet config) on every record of
 * a host vector file and writes the results back, through
 * semihosting. The formats are specified in firmware/README.md and
 * read/written by src/ultrapost/firmware/formats.py.
 *
 * usage (semihosting args): harness VECTORS OUTPUTS [STATS]
 *
 * The configs are compiled in: configs.h (generated) provides
 *   UP_FW_NUM_CONFIGS, up_fw_configs[] (const up_config_t *), up_fw_yunet_configs[]
 *   (const up_yunet_config_t *), up_fw_config_names[]; each id has exactly one
 *   of the two configs (the other entry is NULL).
 *
 * Each record gets its outputs and scratch carved from a static arena, every
 * buffer fenced by guard words (checked after the run: there is no ASan on
 * the target), scratch and outputs pre-filled with a per-record pattern (a
 * core that reads scratch before writing it gives outputs that differ from
 * the host), and the input checksummed before and after (it is const).
 *
 * Build-time sizes (bytes): FW_IO_BYTES (input data, in the IO region),
 * FW_ARENA_BYTES (outputs + scratch + guards, in RAM).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "configs.h"
#include "fw_runtime.h"
#include "semihost.h"
#include "ultrapost.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the output format is written straight from memory: little-endian targets only"
#endif

#ifndef FW_IO_BYTES
#error "FW_IO_BYTES must be defined by the build"
#endif
#ifndef FW_ARENA_BYTES
#error "FW_ARENA_BYTES must be defined by the build"
#endif

#define VEC_MAGIC "UPVEC001"
#define VEC_MAGIC_KP "UPVEC002" /* record headers end with keypoint_offset, keypoint_stride */
#define OUT_MAGIC "UPOUT002"
#define STA_MAGIC "UPSTA001"
#define FILE_HEADER_BYTES 16u
#define RECORD_HEADER_WORDS 10u
#define RECORD_KEYPOINT_WORDS 2u
#define STATS_RECORD_WORDS 4u
#define OUT_RECORD_WORDS 4u
#define MAX_FENCES 6u
#define GUARD_WORDS 8u /* 32 bytes before and after every buffer */
#define GUARD_BASE 0x6A09E667u

__attribute__((section(".io"), aligned(8))) static uint8_t io_data[FW_IO_BYTES];
__attribute__((aligned(8))) static uint8_t arena[FW_ARENA_BYTES];

typedef struct {
    uint32_t config_id;
    uint32_t element_size;
    uint32_t element_count;
    uint32_t score_offset;
    int32_t score_stride;
    uint32_t box_offset;
    int32_t box_stride;
    int32_t capacity;      /* -1: the config's max_detections (times num_labels when > 0) */
    int32_t scratch_bytes; /* -1: up_scratch_size(cfg) */
    uint32_t reserved;
    uint32_t keypoint_offset; /* UPVEC002 only (else 0) */
    int32_t keypoint_stride;  /* 0: keypoints follow the box in each box row (up_run) */
} record_header_t;

/* One guarded buffer inside the arena. */
typedef struct {
    uint32_t *before; /* GUARD_WORDS */
    uint8_t *data;
    uint32_t *after;  /* GUARD_WORDS */
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

static bool same_bytes(const uint8_t *a, const char *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (a[i] != (uint8_t)b[i]) {
            return false;
        }
    }
    return true;
}

__attribute__((noreturn)) static void fail(int32_t code, const char *what, uint32_t record)
{
    sh_puts("harness: ");
    sh_puts(what);
    sh_put_value(", record ", (int32_t)record);
    sh_exit(code);
}

static uint32_t guard_word(uint32_t record, uint32_t i)
{
    return (GUARD_BASE ^ (record * 0x9E3779B9u)) + i * 0x01000193u;
}

/* Carves [guard][bytes, rounded up to 8][guard] from the arena at *offset. */
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
    /* Word stores (bytes is a multiple of 8): keeps traced runs short. */
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

/*
 * The one call site of up_run in the image: src/ultrapost/firmware.py counts
 * the instructions executed from up_run's entry to this call's return address.
 * noinline keeps that return address unique and the stack measure exact.
 */
__attribute__((noinline)) static int32_t run_one(const up_config_t *cfg, const record_header_t *h,
                                                 const fenced_t *scratch, up_output_t *out,
                                                 uint32_t *stack_bytes)
{
    const void *scores = io_data + (size_t)h->score_offset * h->element_size;
    const void *boxes = io_data + (size_t)h->box_offset * h->element_size;
    uint32_t sp = read_sp();
    fw_stack_paint();
    int32_t status = up_run(cfg, scores, h->score_stride, boxes, h->box_stride, scratch->data,
                            (size_t)scratch->bytes, out);
    *stack_bytes = sp - (uint32_t)fw_stack_low_water();
    return status;
}

/* The one call site of up_run_keypoints (counted like up_run's): a record
 * whose keypoints are rows of their own, e.g. a packed RetinaFace row
 * [loc 4 | conf 2 | landms 10] read in place (offsets 4, 0, 6; strides 16). */
__attribute__((noinline)) static int32_t run_one_keypoints(const up_config_t *cfg, const record_header_t *h,
                                                           const fenced_t *scratch, up_output_t *out,
                                                           uint32_t *stack_bytes)
{
    const void *scores = io_data + (size_t)h->score_offset * h->element_size;
    const void *boxes = io_data + (size_t)h->box_offset * h->element_size;
    const void *keypoints = io_data + (size_t)h->keypoint_offset * h->element_size;
    uint32_t sp = read_sp();
    fw_stack_paint();
    int32_t status = up_run_keypoints(cfg, scores, h->score_stride, boxes, h->box_stride, keypoints,
                                      h->keypoint_stride, scratch->data, (size_t)scratch->bytes, out);
    *stack_bytes = sp - (uint32_t)fw_stack_low_water();
    return status;
}

/* The one call site of up_yunet_run (counted like up_run's). The record's data
 * holds the 12 tensors back to back: cls, obj, bbox, kps, each for strides 8,
 * 16, 32 ([N_s][1], [N_s][1], [N_s][4], [N_s][10] elements). */
__attribute__((noinline)) static int32_t run_one_yunet(const up_yunet_config_t *cfg, const record_header_t *h,
                                                       const fenced_t *scratch, up_output_t *out,
                                                       uint32_t *stack_bytes)
{
    static const int32_t strides[UP_YUNET_LEVELS] = {8, 16, 32};
    static const uint32_t widths[4] = {1u, 1u, 4u, UP_YUNET_KPS};
    const void **slots[4];
    up_yunet_tensors_t t;
    slots[0] = t.cls;
    slots[1] = t.obj;
    slots[2] = t.bbox;
    slots[3] = t.kps;
    const uint8_t *p = io_data;
    for (uint32_t kind = 0; kind < 4u; kind++) {
        for (int32_t lv = 0; lv < UP_YUNET_LEVELS; lv++) {
            uint32_t n = (uint32_t)(cfg->pad_w / strides[lv]) * (uint32_t)(cfg->pad_h / strides[lv]);
            slots[kind][lv] = p;
            p += (size_t)n * widths[kind] * h->element_size;
        }
    }
    uint32_t sp = read_sp();
    fw_stack_paint();
    int32_t status = up_yunet_run(cfg, &t, scratch->data, (size_t)scratch->bytes, out);
    *stack_bytes = sp - (uint32_t)fw_stack_low_water();
    return status;
}

static void read_record_header(int32_t fd, record_header_t *h, bool keypoint_words, uint32_t record)
{
    uint8_t raw[(RECORD_HEADER_WORDS + RECORD_KEYPOINT_WORDS) * 4u];
    uint32_t words = RECORD_HEADER_WORDS + (keypoint_words ? RECORD_KEYPOINT_WORDS : 0u);
    if (sh_read_exact(fd, raw, words * 4u) != 0) {
        fail(FW_EXIT_FORMAT, "vector file truncated in a record header", record);
    }
    h->config_id = get_u32(raw + 0);
    h->element_size = get_u32(raw + 4);
    h->element_count = get_u32(raw + 8);
    h->score_offset = get_u32(raw + 12);
    h->score_stride = (int32_t)get_u32(raw + 16);
    h->box_offset = get_u32(raw + 20);
    h->box_stride = (int32_t)get_u32(raw + 24);
    h->capacity = (int32_t)get_u32(raw + 28);
    h->scratch_bytes = (int32_t)get_u32(raw + 32);
    h->reserved = get_u32(raw + 36);
    h->keypoint_offset = keypoint_words ? get_u32(raw + 40) : 0u;
    h->keypoint_stride = keypoint_words ? (int32_t)get_u32(raw + 44) : 0;
}

/* Checks a record against its config and the image's buffers. Row strides are
 * not checked here: a stride below the row width is the core's UP_ERR_STRIDE
 * to report, which the vectors are allowed to test. */
static void check_record(const record_header_t *h, uint32_t record)
{
    if (h->config_id >= (uint32_t)UP_FW_NUM_CONFIGS) {
        fail(FW_EXIT_FORMAT, "config id not compiled into this image", record);
    }
    const up_config_t *cfg = up_fw_configs[h->config_id];
    const up_yunet_config_t *ycfg = up_fw_yunet_configs[h->config_id];
    if (ycfg) {
        /* YuNet: the 12 tensors back to back (see run_one_yunet), no offsets or strides. */
        uint32_t size = ycfg->input_kind == UP_INPUT_S8 ? 1u : ycfg->input_kind == UP_INPUT_F32 ? 4u : 0u;
        if (size == 0u || h->element_size != size) {
            fail(FW_EXIT_FORMAT, "element size does not match the YuNet config input kind", record);
        }
        if (h->element_count != 16u * (uint32_t)up_yunet_num_points(ycfg)) {
            fail(FW_EXIT_FORMAT, "a YuNet record holds 16 elements per point", record);
        }
        if (h->element_count > FW_IO_BYTES / size) {
            fail(FW_EXIT_MEMORY, "input data larger than FW_IO_BYTES", record);
        }
        if (h->score_offset != 0u || h->box_offset != 0u || h->score_stride != 0 || h->box_stride != 0
            || h->keypoint_offset != 0u || h->keypoint_stride != 0) {
            fail(FW_EXIT_FORMAT, "a YuNet record has no offsets or strides", record);
        }
        if (h->capacity < -1 || h->scratch_bytes < -1 || h->reserved != 0u) {
            fail(FW_EXIT_FORMAT, "bad capacity, scratch size or reserved word", record);
        }
        return;
    }
    uint32_t want = cfg->input_kind == UP_INPUT_S8 ? 1u : cfg->input_kind == UP_INPUT_I32 ? 4u : 0u;
    if (want == 0u) {
        fail(FW_EXIT_FORMAT, "config input kind has no firmware path", record);
    }
    if (h->element_size != want) {
        fail(FW_EXIT_FORMAT, "element size does not match the config input kind", record);
    }
    if (h->element_count > FW_IO_BYTES / want) {
        fail(FW_EXIT_MEMORY, "input data larger than FW_IO_BYTES", record);
    }
    if (h->score_offset > h->element_count || h->box_offset > h->element_count
        || h->keypoint_offset > h->element_count) {
        fail(FW_EXIT_FORMAT, "tensor offset beyond the input data", record);
    }
    if (h->keypoint_stride != 0 && cfg->num_keypoints <= 0) {
        fail(FW_EXIT_FORMAT, "keypoint rows for a config without keypoints", record);
    }
    if (h->keypoint_stride == 0 && h->keypoint_offset != 0u) {
        fail(FW_EXIT_FORMAT, "a keypoint offset without a keypoint stride", record);
    }
    if (h->capacity < -1 || h->scratch_bytes < -1 || h->reserved != 0u) {
        fail(FW_EXIT_FORMAT, "bad capacity, scratch size or reserved word", record);
    }
    if (h->score_stride > 0 && h->box_stride > 0 && cfg->num_anchors > 0) {
        /* Rows the core will read must lie inside the data. */
        uint64_t n = (uint64_t)(uint32_t)cfg->num_anchors - 1u;
        uint64_t score_end = h->score_offset + n * (uint32_t)h->score_stride + (uint32_t)cfg->num_classes;
        /* up_run reads the keypoints from the box rows, after the 4 box values; up_run_keypoints from rows of
         * their own. */
        bool own = h->keypoint_stride != 0;
        int32_t kp = cfg->num_keypoints > 0 ? 2 * cfg->num_keypoints : 0;
        int32_t row = 4 + (own ? 0 : kp);
        uint64_t box_end = h->box_offset + n * (uint32_t)h->box_stride + (uint32_t)row;
        if (h->score_stride >= cfg->num_classes && score_end > h->element_count) {
            fail(FW_EXIT_FORMAT, "score rows extend beyond the input data", record);
        }
        if (h->box_stride >= row && box_end > h->element_count) {
            fail(FW_EXIT_FORMAT, "box rows extend beyond the input data", record);
        }
        if (own && h->keypoint_stride >= kp
            && h->keypoint_offset + n * (uint32_t)h->keypoint_stride + (uint32_t)kp > h->element_count) {
            fail(FW_EXIT_FORMAT, "keypoint rows extend beyond the input data", record);
        }
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
    static char cmd[256]; /* relative file names: see qemu_command() */
    char *argv[5];
    int32_t argc = sh_args(cmd, sizeof(cmd), argv, 5);
    if (argc != 3 && argc != 4) {
        sh_puts("usage: harness VECTORS OUTPUTS [STATS]\n");
        return FW_EXIT_USAGE;
    }
    for (uint32_t c = 0; c < (uint32_t)UP_FW_NUM_CONFIGS; c++) {
        const up_yunet_config_t *y = up_fw_yunet_configs[c];
        int32_t status = (up_fw_configs[c] != NULL) == (y != NULL) ? UP_ERR_CONFIG
                         : y                                    ? up_yunet_check_config(y)
                                                                : up_check_config(up_fw_configs[c]);
        if (status != UP_OK) {
            sh_puts("harness: config ");
            sh_puts(up_fw_config_names[c]);
            sh_put_value(" fails up_check_config: ", status);
            return FW_EXIT_CONFIG;
        }
    }

    int32_t vin = sh_open(argv[1], "rb");
    if (vin < 0) {
        sh_puts("harness: cannot open the vector file\n");
        return FW_EXIT_IO;
    }
    uint8_t header[FILE_HEADER_BYTES];
    if (sh_read_exact(vin, header, sizeof(header)) != 0
        || !(same_bytes(header, VEC_MAGIC, 8u) || same_bytes(header, VEC_MAGIC_KP, 8u)) || get_u32(header + 12) != 0u) {
        sh_puts("harness: not a vector file (magic " VEC_MAGIC " or " VEC_MAGIC_KP ")\n");
        return FW_EXIT_FORMAT;
    }
    bool keypoint_words = same_bytes(header, VEC_MAGIC_KP, 8u);
    uint32_t num_records = get_u32(header + 8);

    int32_t vout = sh_open(argv[2], "wb");
    int32_t vsta = argc == 4 ? sh_open(argv[3], "wb") : 0;
    if (vout < 0 || vsta < 0) {
        sh_puts("harness: cannot create an output file\n");
        return FW_EXIT_IO;
    }
    for (uint32_t i = 0; i < 8u; i++) {
        header[i] = (uint8_t)OUT_MAGIC[i];
    }
    put_u32(header + 8, num_records);
    put_u32(header + 12, 0u);
    write_or_fail(vout, header, FILE_HEADER_BYTES, 0u);
    if (argc == 4) {
        for (uint32_t i = 0; i < 8u; i++) {
            header[i] = (uint8_t)STA_MAGIC[i];
        }
        write_or_fail(vsta, header, FILE_HEADER_BYTES, 0u);
    }

    for (uint32_t r = 0; r < num_records; r++) {
        record_header_t h;
        read_record_header(vin, &h, keypoint_words, r);
        check_record(&h, r);
        const up_config_t *cfg = up_fw_configs[h.config_id];
        const up_yunet_config_t *ycfg = up_fw_yunet_configs[h.config_id];

        uint32_t data_bytes = h.element_count * h.element_size;
        uint32_t padded = (data_bytes + 3u) & ~3u;
        if (padded > FW_IO_BYTES) {
            fail(FW_EXIT_MEMORY, "input data larger than FW_IO_BYTES", r);
        }
        if (sh_read_exact(vin, io_data, padded) != 0) {
            fail(FW_EXIT_FORMAT, "vector file truncated in record data", r);
        }

        /* Keypoint and label buffers exist only for configs that have them; otherwise they stay NULL, so a
         * core that wrote them anyway would fault. */
        uint32_t nkp = ycfg ? UP_YUNET_KPS : cfg->num_keypoints > 0 ? 2u * (uint32_t)cfg->num_keypoints : 0u;
        bool labels = !ycfg && cfg->num_labels > 0;
        uint32_t rows = ycfg ? (uint32_t)ycfg->max_detections
                             : (uint32_t)cfg->max_detections * (labels ? (uint32_t)cfg->num_labels : 1u);
        uint32_t capacity = h.capacity < 0 ? rows : (uint32_t)h.capacity;
        size_t scratch_size = ycfg ? up_yunet_scratch_size(ycfg) : up_scratch_size(cfg);
        size_t scratch_need = h.scratch_bytes < 0 ? scratch_size : (size_t)h.scratch_bytes;
        fenced_t boxes, scores, anchors, keypoints, label_buf, scratch;
        const fenced_t *fences[MAX_FENCES] = {&boxes, &scores, &anchors, &scratch, 0, 0};
        uint32_t num_fences = 4u;
        uint32_t offset = 0;
        bool ok = capacity <= FW_ARENA_BYTES / 16u && scratch_need <= FW_ARENA_BYTES
                  && carve(&boxes, &offset, capacity * 16u, "boxes")
                  && carve(&scores, &offset, capacity * 4u, "scores")
                  && carve(&anchors, &offset, capacity * 4u, "anchors")
                  && carve(&scratch, &offset, (uint32_t)scratch_need, "scratch");
        if (ok && nkp > 0u) {
            ok = carve(&keypoints, &offset, capacity * 4u * nkp, "keypoints");
            fences[num_fences++] = &keypoints;
        }
        if (ok && labels) {
            ok = carve(&label_buf, &offset, capacity * 4u, "labels");
            fences[num_fences++] = &label_buf;
        }
        if (!ok) {
            fail(FW_EXIT_MEMORY, "outputs and scratch larger than FW_ARENA_BYTES", r);
        }
        uint8_t fill = (uint8_t)(0x5Au + 37u * r);
        for (uint32_t k = 0; k < num_fences; k++) {
            fence_fill(fences[k], r, fill);
        }
        /* The core gets exactly what was asked for, not the 8-byte rounding. */
        scratch.bytes = (uint32_t)scratch_need;

        up_output_t out = {0}; /* members this harness does not know stay NULL / 0 */
        out.boxes = (int32_t *)(void *)boxes.data;
        out.scores = (int32_t *)(void *)scores.data;
        out.anchors = (int32_t *)(void *)anchors.data;
        out.keypoints = nkp > 0u ? (int32_t *)(void *)keypoints.data : NULL;
        out.labels = labels ? (int32_t *)(void *)label_buf.data : NULL;
        out.capacity = (int32_t)capacity;
        out.count = -1;

        uint32_t input_hash = fnv1a(io_data, data_bytes);
        uint32_t stack_bytes = 0;
        int32_t status = ycfg                    ? run_one_yunet(ycfg, &h, &scratch, &out, &stack_bytes)
                         : h.keypoint_stride != 0 ? run_one_keypoints(cfg, &h, &scratch, &out, &stack_bytes)
                                                  : run_one(cfg, &h, &scratch, &out, &stack_bytes);

        for (uint32_t k = 0; k < num_fences; k++) {
            if (!fence_intact(fences[k], r)) {
                sh_puts("harness: guard overwritten around ");
                sh_puts(fences[k]->name);
                sh_put_value(", record ", (int32_t)r);
                return FW_EXIT_GUARD;
            }
        }
        if (fnv1a(io_data, data_bytes) != input_hash) {
            fail(FW_EXIT_INPUT, "the run modified its const input", r);
        }
        int32_t count = status == UP_OK ? out.count : 0;
        if (count < 0 || (uint32_t)count > capacity) {
            fail(FW_EXIT_FORMAT, "the run returned a count outside [0, capacity]", r);
        }

        uint8_t rec[OUT_RECORD_WORDS * 4u];
        put_u32(rec, (uint32_t)status);
        put_u32(rec + 4, (uint32_t)count);
        put_u32(rec + 8, nkp / 2u);
        put_u32(rec + 12, labels ? 1u : 0u);
        write_or_fail(vout, rec, sizeof(rec), r);
        /* int32 arrays are already little endian on these cores. */
        write_or_fail(vout, boxes.data, (uint32_t)count * 16u, r);
        write_or_fail(vout, scores.data, (uint32_t)count * 4u, r);
        write_or_fail(vout, anchors.data, (uint32_t)count * 4u, r);
        if (nkp > 0u) {
            write_or_fail(vout, keypoints.data, (uint32_t)count * 4u * nkp, r);
        }
        if (labels) {
            write_or_fail(vout, label_buf.data, (uint32_t)count * 4u, r);
        }
        if (argc == 4) {
            uint8_t st[STATS_RECORD_WORDS * 4u];
            put_u32(st, stack_bytes);
            put_u32(st + 4, (uint32_t)scratch_need);
            put_u32(st + 8, (uint32_t)scratch_size);
            put_u32(st + 12, 0u);
            write_or_fail(vsta, st, sizeof(st), r);
        }
    }
    uint8_t extra;
    if (sh_read_exact(vin, &extra, 1u) == 0) {
        sh_puts("harness: trailing bytes after the last record\n");
        return FW_EXIT_FORMAT;
    }
    sh_close(vin);
    sh_close(vout);
    if (argc == 4) {
        sh_close(vsta);
    }
    return FW_EXIT_OK;
}
