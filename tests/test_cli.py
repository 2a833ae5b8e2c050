"""The ``ultrapost`` command line: detect, bench and verify, their outputs and their error paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import require
from PIL import Image

import ultrapost
from ultrapost.cli import main, progress
from ultrapost.cli import verify as verify_cmd
from ultrapost.families import cases

RFB = "ultraface/version-RFB-320.onnx"
NASA = "images/nasa_group.jpg"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str, command: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"ultrapost {command}: error: "), lines[0]
    return lines[0]


# -- help ------------------------------------------------------------------------------------------------------------


def test_help_lists_the_commands_and_teaches(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ("detect", "bench", "verify"):
        assert name in out
    for command, phrases in {
        "detect": ["--model", "--json", "--draw", "--widerface", "x y w h score", "JSON lines", "examples:"],
        "bench": ["numpy predict()", "OpenCV", "onnxruntime", "median", "p90", "70500", "--plot", "Exit status"],
        "verify": ["golden", "--cases", "np.array_equal", "Exit status", "rebuild"],
    }.items():
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        for phrase in phrases:
            assert phrase in text, (command, phrase)


# -- detect ----------------------------------------------------------------------------------------------------------


def test_detect_prints_the_faces(capsys):
    code, out, err = run(capsys, "detect", require(NASA), "--model", require(RFB))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{require(NASA)}: 14 faces"
    rows = np.array([[float(v) for v in line.split()] for line in lines[1:]])
    assert rows.shape == (14, 5)
    assert np.all(rows[:, 0] > 0.7) and np.all(np.diff(rows[:, 0]) <= 0)
    assert np.allclose(rows[:, 1:], ultrapost.detect(require(NASA), model=require(RFB)).boxes, atol=0.05)


def test_detect_json_lines_for_several_photos(capsys):
    photos = [require(NASA), require("images/ultraface_13.jpg")]
    code, out, err = run(capsys, "detect", *photos, "--model", require(RFB), "--json")
    assert code == 0, err
    docs = [json.loads(line) for line in out.splitlines()]
    assert [d["image"] for d in docs] == [str(p) for p in photos]
    assert [len(d["faces"]) for d in docs] == [14, 2]
    for d in docs:
        boxes = np.array([f["box"] for f in d["faces"]])
        assert np.all(boxes >= 0) and np.all(boxes[:, [0, 2]] <= d["width"]) and np.all(boxes[:, [1, 3]] <= d["height"])


def test_detect_thresholds_reach_the_post_processor(capsys):
    code, out, _ = run(capsys, "detect", require(NASA), "--model", require(RFB), "--json", "--max-detections", "3")
    assert code == 0 and len(json.loads(out)["faces"]) == 3
    code, out, _ = run(capsys, "detect", require(NASA), "--model", require(RFB), "--json", "--score-threshold", "0.999")
    faces = json.loads(out)["faces"]
    assert code == 0 and 0 < len(faces) < 14 and all(f["score"] > 0.999 for f in faces)


def test_detect_draws_the_boxes(capsys, tmp_path):
    out_png = tmp_path / "faces.png"
    code, _, err = run(capsys, "detect", require(NASA), "--model", require(RFB), "--draw", out_png)
    assert code == 0, err
    drawn = np.asarray(Image.open(out_png).convert("RGB")).astype(int)
    photo = np.asarray(Image.open(require(NASA)).convert("RGB")).astype(int)
    assert drawn.shape == photo.shape
    changed = np.any(drawn != photo, axis=2)
    # the box outlines are drawn at each face's edges; the inside of the faces is left alone
    faces = ultrapost.detect(require(NASA), model=require(RFB))
    for x1, y1, x2, y2 in np.floor(faces.boxes).astype(int):  # Pillow draws at the floor of each coordinate
        assert changed[y1 + 2 : y2 - 2, x1].all()  # left edge
        assert not changed[(y1 + y2) // 2, (x1 + x2) // 2]  # center
    assert changed.mean() < 0.2


def test_detect_draws_several_photos_into_a_folder(capsys, tmp_path):
    photos = [require(NASA), require("images/ultraface_13.jpg")]
    code, _, err = run(capsys, "detect", *photos, "--model", require(RFB), "--draw", tmp_path / "drawn")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == ["nasa_group.png", "ultraface_13.png"]
    assert Image.open(tmp_path / "drawn" / "ultraface_13.png").size == Image.open(photos[1]).size


def test_detect_writes_widerface_files(capsys, tmp_path):
    code, _, err = run(capsys, "detect", require(NASA), "--model", require(RFB), "--widerface", tmp_path / "pred")
    assert code == 0, err
    lines = (tmp_path / "pred" / "nasa_group.txt").read_text().splitlines()
    assert lines[0] == "nasa_group" and lines[1] == "14" and len(lines) == 16
    rows = np.array([[float(v) for v in line.split()] for line in lines[2:]])
    faces = ultrapost.detect(require(NASA), model=require(RFB))
    xywh = np.concatenate([faces.boxes[:, :2], faces.boxes[:, 2:] - faces.boxes[:, :2]], axis=1)
    assert np.allclose(rows[:, :4], xywh, atol=0.006) and np.allclose(rows[:, 4], faces.scores, atol=1e-6)


def test_detect_refuses_widerface_name_clashes(capsys, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        Image.open(require(NASA)).save(d / "same.jpg")
    code, _, err = run(
        capsys, "detect", a / "same.jpg", b / "same.jpg", "--model", require(RFB), "--widerface", tmp_path / "pred"
    )
    assert code == 1 and "'same'" in one_error_line(err, "detect")


# -- detect: error paths ---------------------------------------------------------------------------------------------


def test_missing_photo_is_one_line_and_the_others_still_run(capsys, tmp_path):
    missing = tmp_path / "missing.jpg"
    code, out, err = run(capsys, "detect", missing, require(NASA), "--model", require(RFB), "--json")
    assert code == 1
    line = one_error_line(err, "detect")
    assert "not found" in line and str(missing) in line
    assert len(json.loads(out)["faces"]) == 14


def test_unreadable_photo_is_one_line(capsys, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    code, out, err = run(capsys, "detect", bad, "--model", require(RFB))
    assert code == 1 and out == ""
    line = one_error_line(err, "detect")
    assert "cannot read image" in line and str(bad) in line


@pytest.mark.parametrize("kind", ["missing", "unknown suffix", "not a model", "not a face detector"])
def test_bad_model_is_one_line(capsys, tmp_path, kind):
    if kind == "missing":
        model, expect = tmp_path / "nope.onnx", "model file not found"
    elif kind == "unknown suffix":
        model, expect = tmp_path / "model.pt", "unknown model format"
        model.write_bytes(b"\0" * 16)
    elif kind == "not a model":
        model, expect = tmp_path / "garbage.onnx", "cannot read ONNX model"
        model.write_bytes(b"this is not protobuf" * 10)
    else:
        model, expect = _identity_onnx(tmp_path), "Known layouts: Ultraface"
    code, out, err = run(capsys, "detect", require(NASA), "--model", model)
    assert code == 1 and out == ""
    assert expect in one_error_line(err, "detect")


def _identity_onnx(tmp_path):
    """A valid ONNX model that is not a face detector: an image in, the same image out."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 64, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 64, 64])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "identity.onnx"
    onnx.save(model, path)
    return path


def test_error_exit_through_the_installed_entry_point(tmp_path):
    """The real process: ``python -m ultrapost`` prints one line on stderr and exits 1, no traceback."""
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(ultrapost.__file__)))
    proc = subprocess.run(
        [sys.executable, "-m", "ultrapost", "detect", str(tmp_path / "x.jpg"), "--model", str(tmp_path / "m.onnx")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert "model file not found" in one_error_line(proc.stderr, "detect")


# -- bench -----------------------------------------------------------------------------------------------------------

METHOD_KEYS = ["ultrapost", "golden", "numpy_predict", "opencv_nms", "onnxruntime_nms", "numpy_copy"]


def test_bench_json_on_synthetic_outputs(capsys, tmp_path):
    plot = tmp_path / "scaling.png"
    code, out, err = run(capsys, "bench", "--json", "--quick", "--plot", plot)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["same_decisions"] is True and doc["not_installed"] == {}
    main_table = doc["main"]
    assert main_table["workload"]["anchors"] == 4420 and main_table["workload"]["source"] == "synthetic"
    assert main_table["workload"]["kept"] == 20
    assert [m["method"] for m in main_table["methods"]] == METHOD_KEYS
    for m in main_table["methods"]:
        assert m["median_us"] > 0 and m["p90_us"] >= m["median_us"] and m["samples"] >= 5
        if m["method"] not in ("ultrapost", "numpy_copy"):
            assert m["decisions"] == "same"
    assert main_table["methods"][0]["ratio"] == 1.0
    assert [r["workload"]["anchors"] for r in doc["scaling"]] == [708, 1118, 4420, 9984, 17640, 70500]
    for r in doc["scaling"]:
        assert [m["method"] for m in r["methods"]] == METHOD_KEYS and r["same_decisions"]
    assert Image.open(plot).size == (1080, 672)  # matplotlib, 9 x 5.6 in at 120 dpi


def test_bench_plot_without_matplotlib_prints_the_tables_and_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    code, out, err = run(capsys, "bench", "--quick", "--plot", tmp_path / "p.png")
    assert code == 1 and not (tmp_path / "p.png").exists()
    assert "70500" in out and "decisions:" in out  # the timings are not lost
    said = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("ultrapost bench")]
    assert said == ["ultrapost bench: --plot needs matplotlib: pip install 'ultrapost[plot]'; no plot written"]
    assert "Traceback" not in err


def test_bench_text_on_a_real_model(capsys):
    model = require("ultraface/version-RFB-320_without_postprocessing.onnx")
    code, out, err = run(
        capsys, "bench", "--model", model, "--image", require(NASA), "--no-scaling", "--budget", "0.02"
    )
    assert code == 0, err
    assert out.splitlines()[0].startswith(
        "version-RFB-320_without_postprocessing.onnx on nasa_group.jpg: 4420 anchors, 55 candidates above 0.7, "
        "14 faces kept"
    )
    for label in ("ultrapost (C)", "numpy predict()", "numpy decode + OpenCV NMSBoxes", "numpy copy of the two"):
        assert label in out
    assert "every method kept the same faces as ultrapost" in out


def test_bench_on_an_int8_model_gives_peers_the_dequantized_outputs(capsys):
    model = require("int8/version-RFB-320_raw_int8.tflite")
    code, out, err = run(
        capsys, "bench", "--model", model, "--image", require(NASA), "--no-scaling", "--budget", "0.02", "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["main"]["workload"]["kept"] == 14 and doc["same_decisions"]


def test_bench_over_several_photos_summarizes_the_ratios(capsys, tmp_path):
    """--image with photos and a folder: one result per photo, and per method the ratio of the totals and the
    spread of the per-photo ratios, all computed from the per-photo medians."""
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "b.jpg").write_bytes(require("images/ultraface_13.jpg").read_bytes())
    (folder / "notes.txt").write_text("not a photo")
    model = require(RFB)
    code, out, err = run(
        capsys, "bench", "--model", model, "--image", require(NASA), folder, "--budget", "0.02", "--quick", "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert [p["workload"]["image"] for p in doc["photos"]] == ["nasa_group.jpg", "b.jpg"]
    assert [p["workload"]["kept"] for p in doc["photos"]] == [14, 2] and doc["same_decisions"]
    summary = doc["summary"]["methods"]
    medians = {
        m["method"]: [[x for x in p["methods"] if x["method"] == m["method"]][0]["median_us"] for p in doc["photos"]]
        for m in doc["photos"][0]["methods"]
    }
    for key, row in summary.items():
        ratios = [a / b for a, b in zip(medians[key], medians["ultrapost"], strict=True)]
        assert row["total_us"] == pytest.approx(sum(medians[key]), abs=2e-3)
        assert row["ratio_of_totals"] == pytest.approx(sum(medians[key]) / sum(medians["ultrapost"]), abs=0.006)
        assert row["ratio_min"] == pytest.approx(min(ratios), abs=0.006)
        assert row["ratio_max"] == pytest.approx(max(ratios), abs=0.006)
    code, out, err = run(
        capsys, "bench", "--model", model, "--image", require(NASA), folder, "--budget", "0.02", "--quick"
    )
    assert code == 0, err
    assert "summary over 2 photos" in out and "nasa_group.jpg" in out and "b.jpg" in out


@pytest.mark.parametrize(
    "argv, expect",
    [
        (["--image", "x.jpg"], "--image is for --model"),
        (["--budget", "0"], "--budget must be > 0"),
        (["--no-scaling", "--plot", "x.png"], "--plot draws the table over input sizes"),
    ],
)
def test_bench_argument_errors_are_one_line(capsys, argv, expect):
    code, _, err = run(capsys, "bench", *argv)
    assert code == 1 and expect in one_error_line(err, "bench")


def test_bench_on_a_missing_model_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "bench", "--model", tmp_path / "m.onnx", "--image", require(NASA))
    assert code == 1 and "model file not found" in one_error_line(err, "bench")


# -- verify ----------------------------------------------------------------------------------------------------------


def test_verify_text_summary(capsys):
    code, out, err = run(capsys, "verify", "--cases", "5")
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].split() == ["family", "kind", "cases", "mismatches", *cases.NMS_KINDS]
    rows = [(f, k) for f, kinds in verify_cmd.GROUPS.items() for k in kinds]
    assert [tuple(line.split()[:2]) for line in lines[1 : 1 + len(rows)]] == rows
    assert {f for f, _ in rows} == {
        "ultraface", "ultraslim", "blazeface", "retinaface", "multiclass", "retinaface_packed", "yunet"
    }  # fmt: skip
    # 5 cases per family and kind: one per NMS kind (YuNet's own NMS: OpenCV's, counted as hard)
    for line in lines[1 : 1 + len(rows)]:
        want = ["5", "0", "0/5"] + ["0/0"] * 4 if line.startswith("yunet") else ["5", "0"] + ["0/1"] * 5
        assert line.split()[2:] == want, line
    assert lines[-1].startswith(f"{5 * len(rows)} cases in ") and lines[-1].endswith("C == golden on every case")


def test_verify_shows_progress_off_a_terminal(capsys, monkeypatch):
    """Off a terminal too (CI logs, pipes), verify reports progress on stderr (every 5 s; here at once); stdout keeps
    only the results."""
    monkeypatch.setattr(progress, "OFF_TERMINAL_SECONDS", 0.0)
    code, out, err = run(capsys, "verify", "--cases", "2", "--family", "retinaface")
    assert code == 0
    assert "verify: 100%" in err and "retinaface" in err and "case" in err
    assert "verify:" not in out


def test_verify_json(capsys):
    code, out, _ = run(capsys, "verify", "--cases", "3", "--seed", "5", "--json", "--family", "retinaface")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True and doc["cases"] == 9 and doc["seed"] == 5 and doc["mismatches"] == []
    assert [(g["family"], g["kind"]) for g in doc["groups"]] == [("retinaface", k) for k in cases.KINDS]
    assert doc["groups"][0]["nms"] == {n: {"cases": 1, "mismatches": 0} for n in cases.NMS_KINDS[:3]}


def test_verify_exit_status_and_listing_on_a_mismatch(capsys, monkeypatch):
    """Fault injection into the comparison: a case reported as differing gives exit status 1 and a rebuild line."""
    real = verify_cmd.differences
    monkeypatch.setattr(
        verify_cmd, "differences", lambda c, g: real(c, g) + (["scores"] if len(c) == len(g) and len(c) % 2 else [])
    )
    code, out, _ = run(capsys, "verify", "--cases", "5", "--family", "blazeface")
    assert code == 1
    listed = [line for line in out.splitlines() if line.startswith("MISMATCH blazeface")]
    hint = "scores differ; rebuild: ultrapost.families.cases.blazeface_case(seed="
    assert listed and all(hint in line for line in listed)
    assert out.splitlines()[-1].endswith(f"{len(listed)} MISMATCHES")


def test_verify_cases_are_reproducible_and_cover_the_space():
    a = verify_cmd.make("ultraface", "s8", 7, seed=3)
    b = verify_cmd.make("ultraface", "s8", 7, seed=3)
    assert a.params == b.params and all(np.array_equal(x, y) for x, y in zip(a.args, b.args, strict=True))
    assert a.rebuild().startswith("ultrapost.families.cases.make_case(seed=")
    made = [verify_cmd.make("ultraface", "f32", i) for i in range(200)]
    assert {c.params["mode"] for c in made} == set(cases.MODES)
    assert {tuple(c.params["size"]) for c in made} == set(cases.SIZES)
    assert {c.params["decoded"] for c in made} == {True, False} and {c.params["logits"] for c in made} == {True, False}
    assert {c.nms for c in made} == set(cases.NMS_KINDS)
    for family, kinds in verify_cmd.GROUPS.items():
        for kind in kinds:
            case = verify_cmd.make(family, kind, 3)
            assert case.nms == ("hard" if family == "yunet" else "soft-linear") and case.family == family
            # the rebuild line is code that makes the same case
            again = eval(case.rebuild(), {"ultrapost": __import__("ultrapost.families.cases")})  # noqa: S307
            if family == "yunet":
                (outputs, _), yn = again
                assert all(np.array_equal(outputs[k], case.args[0][k]) for k in outputs)
                assert vars(yn)["score_threshold"] == case.pp.score_threshold and yn.top_k == case.pp.top_k
            elif family == "retinaface_packed":
                conf, loc, landms = again[1:4]
                if kind != "s8":
                    assert np.array_equal(np.concatenate([loc, conf, landms], axis=1)[None], case.args[0])
            else:
                assert all(np.array_equal(x, y) for x, y in zip(case.args, again[1:], strict=False) if x is not None)
    rf = [verify_cmd.make("retinaface", "s8", i) for i in range(40)]
    assert {c.params["config"] for c in rf} == {"slim", "blazeface"}
    with pytest.raises(ValueError, match="unknown family/kind"):
        verify_cmd.make("ultraslim", "i32", 0)


def test_verify_comparison_sees_a_one_unit_difference():
    case = verify_cmd.make("ultraface", "f32", 0)
    c = case.pp.postprocess(*case.args, **case.kwargs, backend="c")
    g = case.pp.postprocess(*case.args, **case.kwargs, backend="golden")
    assert verify_cmd.differences(c, g) == [] and verify_cmd.check(case) is None
    assert len(c) > 0
    changed = {name: a.copy() for name, a in g.fixed.items()}
    changed["scores"][-1] += 1
    assert verify_cmd.differences(c, type(g).from_fixed(changed)) == ["scores"]
    changed = {name: a.astype(np.int64) for name, a in g.fixed.items()}
    assert all("dtype" in d for d in verify_cmd.differences(c, type(g).from_fixed(changed)))


def test_verify_argument_errors_are_one_line(capsys):
    code, _, err = run(capsys, "verify", "--cases", "0")
    assert code == 1 and "--cases must be at least 1" in one_error_line(err, "verify")
    code, _, err = run(capsys, "verify", "--family", "yolo")
    assert code == 1 and "unknown --family yolo" in one_error_line(err, "verify")
