/*
 * Reset and fault handling for the Cortex-M boards (M0/M0+, M4, M33).
 *
 * The vector table sits at the start of the code region on every board: the
 * M4 (mps2-an386) and M0 (microbit) read it at address 0, the M33
 * (mps2-an505) boots Secure with VTOR_S = 0x10000000, where the linker script
 * places the code. No interrupt is ever enabled, so only the system
 * exceptions have entries.
 *
 * The stack sits at the bottom of RAM and grows down towards its limit: on
 * the M33 MSPLIM makes an overflow a UsageFault; on the other cores the
 * memory below the limit is unmapped (a BusFault) and the harness also
 * checks a painted region (fw_stack_*).
 */
#include <stdint.h>

#include "fw_runtime.h"
#include "semihost.h"

extern uint32_t __data_load__[], __data_start__[], __data_end__[];
extern uint32_t __bss_start__[], __bss_end__[];
extern uint32_t __stack_limit__[], __stack_top__[];

int main(void);

__attribute__((noreturn)) void Reset_Handler(void);
void Fault_Handler(void);

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__stack_top__, /* initial MSP */
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    Fault_Handler, /* SecureFault (v8-M) */
    0, 0, 0,
    Fault_Handler, /* SVCall */
    Fault_Handler, /* DebugMonitor */
    0,
    Fault_Handler, /* PendSV */
    Fault_Handler, /* SysTick */
};

/* volatile stores: keep these loops from becoming memcpy/memset calls that
 * would run before .data exists. */
__attribute__((noreturn)) void Reset_Handler(void)
{
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8M_BASE__)
    __asm__ volatile("msr msplim, %0" : : "r"(__stack_limit__));
#endif
#if defined(__ARM_FP)
    /* Hard-float builds: grant full access to CP10/CP11 before any FP instruction. */
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    volatile uint32_t *dst = __data_start__;
    const uint32_t *src = __data_load__;
    while (dst < __data_end__) {
        *dst++ = *src++;
    }
    for (dst = __bss_start__; dst < __bss_end__; dst++) {
        *dst = 0u;
    }
    fw_stack_paint();
    sh_exit(main());
}

/* Paints [__stack_limit__, sp) with the pattern. Assembly so that it never
 * stores below its caller's SP except the paint itself. */
__attribute__((naked)) void fw_stack_paint(void)
{
    __asm__ volatile(
        ".syntax unified\n\t"
        "mov r0, sp\n\t"
        "ldr r1, =__stack_limit__\n\t"
        "ldr r2, =0xC5C5C5C5\n\t"
        "1:\n\t"
        "cmp r1, r0\n\t"
        "bhs 2f\n\t"
        "str r2, [r1]\n\t"
        "adds r1, r1, #4\n\t"
        "b 1b\n\t"
        "2:\n\t"
        "bx lr\n\t"
        ".ltorg\n\t");
}

/* Lowest stack address written since the last paint (__stack_top__ if none).
 * Assembly: a compiled function could push below the caller's SP and count
 * itself. */
__attribute__((naked)) uintptr_t fw_stack_low_water(void)
{
    __asm__ volatile(
        ".syntax unified\n\t"
        "ldr r0, =__stack_limit__\n\t"
        "ldr r1, =__stack_top__\n\t"
        "ldr r2, =0xC5C5C5C5\n\t"
        "1:\n\t"
        "cmp r0, r1\n\t"
        "bhs 2f\n\t"
        "ldr r3, [r0]\n\t"
        "cmp r3, r2\n\t"
        "bne 2f\n\t"
        "adds r0, r0, #4\n\t"
        "b 1b\n\t"
        "2:\n\t"
        "bx lr\n\t"
        ".ltorg\n\t");
}

uint32_t fw_stack_used(void)
{
    return (uint32_t)((uintptr_t)__stack_top__ - fw_stack_low_water());
}

uint32_t fw_stack_size(void)
{
    return (uint32_t)((uintptr_t)__stack_top__ - (uintptr_t)__stack_limit__);
}

/* Reports the faulting PC and the fault status, then exits FW_EXIT_FAULT
 * (FW_EXIT_STACK for a stack-limit violation). frame: the stacked r0-r3,
 * r12, lr, pc, xpsr of the exception entry. */
__attribute__((noreturn, used)) static void fault_report(const uint32_t *frame, uint32_t exc_return)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    (void)exc_return;
    sh_puts("firmware: fault\n");
    sh_put_value("  exception: ", (int32_t)(ipsr & 0x1FFu));
    if (frame != 0) {
        sh_put_value("  pc: ", (int32_t)frame[6]);
        sh_put_value("  lr: ", (int32_t)frame[5]);
    } else {
        sh_puts("  stack pointer was below the stack limit\n");
    }
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__)
    uint32_t cfsr = *(volatile uint32_t *)0xE000ED28u;
    sh_put_value("  cfsr: ", (int32_t)cfsr);
    sh_put_value("  hfsr: ", (int32_t)*(volatile uint32_t *)0xE000ED2Cu);
    sh_put_value("  bfar: ", (int32_t)*(volatile uint32_t *)0xE000ED38u);
    if (cfsr & (1u << 20)) { /* UFSR.STKOF */
        sh_puts("  stack overflow (MSPLIM)\n");
        sh_exit(FW_EXIT_STACK);
    }
#endif
    sh_exit(FW_EXIT_FAULT);
}

/* Naked: hand the exception frame to C without touching the stack first.
 * The frame is on MSP (the firmware never uses PSP). If SP is at (or within
 * 64 bytes of) the stack limit, the stack overflowed: the frame is not
 * trusted (NULL) and SP goes back to the top, so fault_report neither reads
 * unmapped memory nor trips MSPLIM again (which would lock the core up). */
__attribute__((naked)) void Fault_Handler(void)
{
    __asm__ volatile(
        ".syntax unified\n\t"
        "mrs r0, msp\n\t"
        "mov r1, lr\n\t"
        "ldr r2, =__stack_limit__ + 64\n\t"
        "cmp r0, r2\n\t"
        "bhs 1f\n\t"
        "movs r0, #0\n\t"
        "ldr r3, =__stack_top__\n\t"
        "mov sp, r3\n\t"
        "1:\n\t"
        "ldr r3, =fault_report\n\t"
        "bx r3\n\t"
        ".ltorg\n\t");
}
