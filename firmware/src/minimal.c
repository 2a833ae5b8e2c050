/*
 * The smallest image that links every public function of the core: startup,
 * semihosting exit and one call of each API function. The footprint and the
 * "no float helper, no heap" check use it, so the figures carry nothing of the
 * vector harness.
 *
 * The arguments come through volatile pointers: the compiler cannot fold the
 * calls away, so everything reachable from the API stays linked. Run, it
 * checks the NULL-config paths: up_check_config, up_run and up_boxes_nms return
 * UP_ERR_NULL, up_scratch_size and up_boxes_scratch_size return 0.
 */
#include <stddef.h>
#include <stdint.h>

#include "semihost.h"
#include "ultrapost.h"

static const up_config_t *volatile config_in;
static const up_boxes_config_t *volatile boxes_config_in;
static const int8_t *volatile tensor_in;
static volatile int32_t value_in = 1 << 20;
static volatile int32_t sink;

int main(void)
{
    static uint32_t scratch[16];
    up_output_t out = {0};
    const int8_t *t = tensor_in;
    int32_t check = up_check_config(config_in);
    size_t need = up_scratch_size(config_in);
    int32_t run = up_run(config_in, t, 6, t + 2, 6, scratch, sizeof(scratch), &out);
    up_boxes_input_t boxes = {0};
    up_boxes_output_t kept = {0};
    size_t boxes_need = up_boxes_scratch_size(boxes_config_in);
    int32_t boxes_run = up_boxes_nms(boxes_config_in, &boxes, scratch, sizeof(scratch), &kept);
    sink = up_exp_q20(value_in) ^ up_sigmoid_q30(value_in);
    return (check == UP_ERR_NULL && need == 0u && run == UP_ERR_NULL && boxes_need == 0u && boxes_run == UP_ERR_NULL)
               ? FW_EXIT_OK
               : FW_EXIT_CONFIG;
}
