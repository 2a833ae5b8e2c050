"""Progress of the long commands (verify, bench, firmware-check) as a tqdm bar on stderr: redrawn in place on a
terminal; off a terminal (CI logs, pipes) at most one line every 5 s, so a long run is never silent. stdout keeps
only the results."""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(total: int | None, desc: str, unit: str = "step", stream=None) -> tqdm:
    stream = sys.stderr if stream is None else stream
    live = bool(getattr(stream, "isatty", lambda: False)())
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=stream,
        mininterval=0.1 if live else 5.0,
        dynamic_ncols=live,
        ascii=not live,
        leave=True,
    )


class Steps:
    """A bar over named steps: each call names the step now starting (the one before is then done)."""

    def __init__(self, total: int, desc: str, unit: str = "step", stream=None):
        self.bar = bar(total, desc, unit, stream)
        self.started = False

    def __call__(self, message: str) -> None:
        if self.started:
            self.bar.update(1)
        self.started = True
        self.bar.set_postfix_str(message)

    def close(self) -> None:
        if self.started:
            self.bar.update(1)
        self.bar.close()
