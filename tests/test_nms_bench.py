"""``ultrapost bench --nms`` and its box sets: runs, compares decisions, reports JSON; bad options are errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ultrapost.bench import nms as bench_nms
from ultrapost.cli import main


@pytest.mark.parametrize("kind", bench_nms.SETS)
def test_box_sets_are_valid_and_reproducible(kind):
    boxes, scores = bench_nms.box_set(kind, 500)
    again, _ = bench_nms.box_set(kind, 500)
    assert boxes.dtype == np.float32 and boxes.shape == (500, 4) and scores.shape == (500,)
    assert np.array_equal(boxes, again)
    assert (boxes[:, 2:] > boxes[:, :2]).all()
    assert np.array_equal(boxes * 16, np.round(boxes * 16))  # on the 1/16 grid: exact for every peer's float32
    assert (scores > 0).all()


def test_bench_nms_json(capsys):
    code = main(["bench", "--nms", "--quick", "--sizes", "300", "--sets", "clustered", "crowd", "--json"])
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert [(r["set"], r["n"]) for r in result["rows"]] == [("clustered", 300), ("crowd", 300)]
    for row in result["rows"]:
        u = row["methods"]["ultrapost"]
        assert u["median_ms"] > 0 and u["kept"] > 0
        for name, e in row["methods"].items():
            if name != "ultrapost":
                assert e["same_decisions"] in (True, False) and e["ratio"] > 0
    assert code == (
        0 if all(e.get("same_decisions", True) for r in result["rows"] for e in r["methods"].values()) else 1
    )


def test_bench_nms_table(capsys):
    code = main(["bench", "--nms", "--quick", "--sizes", "200", "--sets", "random"])
    out, _ = capsys.readouterr()
    assert "ultrapost ms" in out and "random" in out
    assert code in (0, 1)


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--sets", "grid"], "unknown box set"),
        (["--sizes", "0"], "--sizes must be >= 1"),
        (["--plot", "x.png"], "do not apply"),
    ],
)
def test_bench_nms_bad_options(capsys, argv, match):
    code = main(["bench", "--nms", "--quick", *argv])
    _, err = capsys.readouterr()
    assert code != 0 and match in err
