"""The emulated boards: ``an386`` (Cortex-M4, qemu ``mps2-an386``), ``an505`` (Cortex-M33, qemu ``mps2-an505``, the
core of NXP's MCX N947) and ``m0plus`` (Cortex-M0+ code, ARMv6-M without FPU or long multiply, run on qemu's
``microbit`` Cortex-M0, which executes the same instruction set), and the exit statuses of their images."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Board:
    """One target: compiler flags, linker script, qemu machine and the harness's buffer sizes.

    io_bytes: input-vector buffer in the board's IO region; arena_bytes: outputs + scratch + guards in RAM.
    """

    name: str
    cpu: str
    machine: str
    linker_script: str
    description: str
    io_bytes: int
    arena_bytes: int
    fpu: str | None = None  # -mfpu for a hard-float build; None: the core has no FPU option

    def cflags(self, float_abi: str = "soft") -> list[str]:
        if float_abi not in ("soft", "hard"):
            raise ValueError(f"float_abi must be 'soft' or 'hard', got {float_abi!r}")
        flags = ["-mthumb", f"-mcpu={self.cpu}", f"-mfloat-abi={float_abi}"]
        if float_abi == "hard":
            if self.fpu is None:
                raise ValueError(f"board {self.name!r} ({self.cpu}) has no FPU for a hard-float build")
            flags.append(f"-mfpu={self.fpu}")
        return flags


BOARDS: dict[str, Board] = {
    "an386": Board(
        "an386",
        "cortex-m4",
        "mps2-an386",
        "an386.ld",
        "Arm MPS2 AN386, Cortex-M4",
        io_bytes=16 << 20,
        arena_bytes=2 << 20,
        fpu="fpv4-sp-d16",
    ),
    "an505": Board(
        "an505",
        "cortex-m33",
        "mps2-an505",
        "an505.ld",
        "Arm MPS2 AN505, Cortex-M33 (as in NXP MCX N947)",
        io_bytes=3 << 20,
        arena_bytes=768 << 10,
        fpu="fpv5-sp-d16",
    ),
    "m0plus": Board(
        "m0plus",
        "cortex-m0plus",
        "microbit",
        "microbit.ld",
        "Cortex-M0+ code (ARMv6-M, no FPU) on qemu's micro:bit Cortex-M0",
        io_bytes=8 << 10,
        arena_bytes=5 << 10,
    ),
}


def get_board(name: str | Board) -> Board:
    if isinstance(name, Board):
        return name
    try:
        return BOARDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown board {name!r}; choose one of {sorted(BOARDS)}") from None


# Exit statuses of the firmware images (firmware/src/semihost.h; a test checks both lists agree).
EXIT_CODES = {
    0: "ok",
    1: "abnormal exit reported by qemu",
    2: "bad command line",
    3: "a host file could not be opened, read or written",
    4: "the vector file is malformed",
    5: "a guard word around an output or scratch buffer changed",
    6: "a compiled-in config failed up_check_config",
    7: "up_run wrote to its const input",
    8: "CPU fault (HardFault, BusFault, UsageFault...)",
    9: "stack overflow caught by MSPLIM",
    10: "a record needs more memory than the image reserves",
}
