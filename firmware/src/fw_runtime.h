/* Runtime services of the firmware images beyond semihosting (startup.c). */
#ifndef FW_RUNTIME_H
#define FW_RUNTIME_H

#include <stdint.h>

/* Fills the free stack below the caller's SP with a pattern. */
void fw_stack_paint(void);
/* Lowest stack address written since the last fw_stack_paint. */
uintptr_t fw_stack_low_water(void);
/* Bytes between the top of the stack and the low-water mark. */
uint32_t fw_stack_used(void);
/* Bytes reserved for the stack by the linker script. */
uint32_t fw_stack_size(void);

#endif /* FW_RUNTIME_H */
