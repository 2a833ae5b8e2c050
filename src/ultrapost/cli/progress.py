"""Progress of the long commands (verify, bench, firmware-check) as a tqdm bar on stderr: redrawn in place on a
terminal; off a terminal (CI logs, pipes) at most one line every 5 s, so a long run is never silent. A command that
ends (or fails) within the first moments prints no bar at all, so an error stays one line. stdout keeps only the
results."""

from __future__ import annotations

import sys

from tqdm import tqdm

OFF_TERMINAL_SECONDS = 5.0  # off a terminal: the first line after this long, then one line per this long


def bar(total: int | None, desc: str, unit: str = "step", stream=None) -> tqdm:
    stream = sys.stderr if stream is None else stream
    live = bool(getattr(stream, "isatty", lambda: False)())
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=stream,
        mininterval=0.1 if live else OFF_TERMINAL_SECONDS,
        delay=0.5 if live else OFF_TERMINAL_SECONDS,
        dynamic_ncols=live,
        ascii=not live,
        leave=True,
    )


class Steps:
    """A bar over named steps: each call names the step now starting (the one before is then done)."""

    def __init__(self, total: int | None, desc: str, unit: str = "step", stream=None):
        self.bar = bar(total, desc, unit, stream)
        self.started = False

    def __call__(self, message: str) -> None:
        if self.started:
            self.bar.update(1)
        self.started = True
        self.bar.set_postfix_str(message, refresh=False)

    def close(self) -> None:
        if self.started:
            self.bar.update(1)
        self.bar.close()
