"""The packed RetinaFace (Pytorch_Retinaface mobilenet0.25, rows [loc 4 | conf 2 | landms 10]) in `ultrapost
codegen`, `vectors` and `firmware-check`: records keep the tensor as it is (UPVEC002: keypoint offset and stride),
the C reads it in place through up_run_keypoints on the host (self-test of vectors.h, the ASan vector runner) and
on a board, identical to the golden model; the shared photos through the shared model become records whose faces
are the family's. (The packed records of every board's check run: tests/test_firmware.py.)"""

from __future__ import annotations

import dataclasses
import json
import subprocess

import numpy as np
import pytest
from conftest import require, require_module, require_tool
from test_cli_firmware import _host_run, _printer, need_host_gcc

import ultrapost
from ultrapost import cli
from ultrapost import firmware as fw
from ultrapost.cli.model_options import spec_from_args
from ultrapost.firmware import vectorsets as vs
from ultrapost.firmware.formats import VectorRecord, read_vectors, write_vectors
from ultrapost.firmware.spec import PACKED_QUANT, ModelSpec

MNET = dict(min_sizes=[[16, 32], [64, 128], [256, 512]], steps=(8, 16, 32))


def _spec(args):
    return spec_from_args(cli.build_parser().parse_args(["codegen", *args]))


def test_packed_record_format_round_trip(tmp_path):
    """Keypoint rows of their own make the file UPVEC002 (two more header words per record) and read back as
    written; a set without them stays UPVEC001, byte for byte as before."""
    t = np.arange(-40, 40, dtype=np.int8).reshape(5, 16)
    rec = VectorRecord.packed(3, t)
    assert (rec.score_offset, rec.box_offset, rec.keypoint_offset) == (4, 0, 6)
    assert rec.score_stride == rec.box_stride == rec.keypoint_stride == 16
    plain = VectorRecord.separate(1, np.zeros((5, 2), np.int8), np.ones((5, 4), np.int8))
    write_vectors(tmp_path / "kp.bin", [plain, rec])
    raw = (tmp_path / "kp.bin").read_bytes()
    assert raw[:8] == b"UPVEC002" and len(raw) == 16 + 2 * 48 + 5 * 6 + 2 + 5 * 16
    got = read_vectors(tmp_path / "kp.bin")
    for g, w in zip(got, [plain, rec], strict=True):
        assert dataclasses.astuple(g)[2:] == dataclasses.astuple(w)[2:]
        assert np.array_equal(g.data, w.data) and g.data.dtype == w.data.dtype
    write_vectors(tmp_path / "plain.bin", [plain])
    assert (tmp_path / "plain.bin").read_bytes()[:8] == b"UPVEC001" and len(
        (tmp_path / "plain.bin").read_bytes()
    ) == 16 + 40 + 32
    with pytest.raises(ValueError, match="keypoint stride"):
        VectorRecord(0, t.reshape(-1), 4, 16, 0, 16, keypoint_offset=6)


def test_spec_defaults_are_detect_py_decisions():
    """The family's default configuration is RetinaFace(preset="pytorch_retinaface") on the mnet priors: the same
    fixed config, and for the CLI the same options."""
    spec = _spec(["--family", "retinaface_packed"])
    assert spec == ModelSpec.retinaface_packed()
    rf = ultrapost.RetinaFace(input_size=640, **MNET, logits=True, preset="pytorch_retinaface")
    for kind, quant in (("s8", (PACKED_QUANT,) * 3), ("i32", None)):
        want, _ = rf.config(kind, quant)
        got, _ = (
            spec.firmware_config() if kind == "s8" else dataclasses.replace(spec, input_kind="f32").firmware_config()
        )
        assert got.scalars() == want.scalars(), kind
        assert all(np.array_equal(a, want.tables()[k]) for k, a in got.tables().items())
    assert spec.processor().num_anchors == 16800


@pytest.mark.parametrize("args, words", [
    (["--box-scale", "0.1"], "--box-scale"),
    (["--decoded"], "--decoded"),
    (["--priors", "stride"], "--priors"),
    (["--class-thresholds", "0.5,0.6"], "--class-thresholds"),
])  # fmt: skip
def test_packed_options_refuse_what_the_model_has_not(args, words, tmp_path, capsys):
    assert cli.main(["codegen", "--family", "retinaface_packed", *args, "-o", str(tmp_path / "h.h")]) == 1
    assert words in capsys.readouterr().err


def test_codegen_packed_header_is_the_python_config(tmp_path):
    need_host_gcc()
    args = ["--family", "retinaface_packed", "--input-size", "160", "--score-threshold", "0.5", "--name", "rf160"]
    spec = _spec(args)
    header = tmp_path / "cfg_rf160.h"
    assert cli.main(["codegen", *args, "-o", str(header)]) == 0
    text = header.read_text()
    for macro, value in (("SCORE_COLUMN", 4), ("BOX_COLUMN", 0), ("KEYPOINT_COLUMN", 6), ("ROW_ELEMENTS", 16)):
        assert f"#define RF160_{macro} {value}\n" in text
    assert "up_run_keypoints(&rf160_config, t + 4, 16, t, 16, t + 6, 16" in text
    fc, _ = spec.firmware_config()
    tables = fc.tables()
    pointers = [n for c, n in fw.config_fields() if c.endswith("*")]
    defines = "".join(f"#define {n.upper()}_N {tables[n].size if n in tables else 0}\n" for n in pointers)
    (tmp_path / "probe.c").write_text(defines + _printer("rf160"))
    proc = _host_run([tmp_path / "probe.c"], [tmp_path, fw.csrc_dir()], tmp_path / "probe", tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = {line.split()[0]: [int(v) for v in line.split()[1:]] for line in proc.stdout.splitlines()}
    for name, value in fc.scalars().items():
        assert got[name] == [value], name
    for name in pointers:
        assert got[name] == (tables[name].reshape(-1).tolist() if name in tables else []), name
    assert got["check"] == [0, fw.scratch_size(fc), fw.scratch_size(fc)]
    assert fc.num_anchors == 1050 and fc.num_keypoints == 5


SELFTEST = r"""
#include <stdio.h>
#include <string.h>
#include "vectors.h"

/* A board's self-test of a packed set: every record read in place by up_run_keypoints (keypoint rows of their
 * own), compared with the golden outputs. */
int main(void)
{
    static int32_t boxes[1024][4], scores[1024], anchors[1024], keypoints[1024][10];
    static uint32_t scratch[1 << 15];
    int bad = 0;
    for (int i = 0; i < UP_NUM_VECTORS; i++) {
        const up_vector_t *v = &up_vectors[i];
        const up_config_t *cfg = up_fw_configs[v->config_id];
        const char *d = (const char *)v->data;
        if (up_check_config(cfg) != UP_OK || v->keypoint_stride == 0 || v->num_keypoints != 5) return 2;
        up_output_t out = {0};
        out.boxes = &boxes[0][0];
        out.scores = scores;
        out.anchors = anchors;
        out.keypoints = &keypoints[0][0];
        out.capacity = v->capacity < 0 ? cfg->max_detections : v->capacity;
        size_t sb = v->scratch_bytes < 0 ? up_scratch_size(cfg) : (size_t)v->scratch_bytes;
        if (sb > sizeof scratch || out.capacity > 1024) return 2;
        int32_t st = up_run_keypoints(cfg, d + v->score_offset * v->element_size, v->score_stride,
                                      d + v->box_offset * v->element_size, v->box_stride,
                                      d + v->keypoint_offset * v->element_size, v->keypoint_stride, scratch, sb, &out);
        size_t k = (size_t)v->count;
        if (st != v->status || (st == UP_OK && (out.count != v->count ||
            (k && (memcmp(boxes, v->boxes, 16 * k) || memcmp(scores, v->scores, 4 * k) ||
                   memcmp(anchors, v->anchors, 4 * k) || memcmp(keypoints, v->keypoints, 40 * k)))))) {
            printf("%s: differs\n", v->name);
            bad++;
        }
    }
    printf("%d of %d identical\n", UP_NUM_VECTORS - bad, UP_NUM_VECTORS);
    return bad != 0;
}
"""


@pytest.mark.parametrize("kind", ["s8", "f32"])
def test_vectors_packed_self_test_in_c_and_asan_runner(kind, tmp_path):
    """A generated packed set (every case mode, the four error records) passes the C self-test of vectors.h and
    the ASan+UBSan host twin of the board harness (exact-size buffers: the last row's landmarks end the data),
    byte for byte expected.bin; a changed expected value is caught."""
    need_host_gcc()
    out = tmp_path / "set"
    args = ["vectors", "--family", "retinaface_packed", "--input-size", "160", "--input-kind", kind, "--cases", "6"]
    assert cli.main([*args, "-o", str(out)]) == 0
    vset = vs.read_set(out)
    assert (out / "vectors.bin").read_bytes()[:8] == b"UPVEC002"
    assert vset.manifest["configs"][0]["num_anchors"] == 1050 and vset.manifest["configs"][0]["num_keypoints"] == 5
    assert [e.status for e in vset.expected][-5:] == [-8, -4, -3, -5, -5]  # extreme: out of range; the errors
    assert sum(len(e) for e in vset.expected) > 1000 and all(e.num_keypoints == 5 for e in vset.expected)
    assert all(v.keypoint_stride == 16 or "keypoint_stride" in n for v, n in zip(vset.vectors, vset.names, strict=True))
    (tmp_path / "selftest.c").write_text(SELFTEST)
    proc = _host_run([tmp_path / "selftest.c"], [out, fw.csrc_dir()], tmp_path / "selftest", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "10 of 10 identical" in proc.stdout
    exe = fw.build_host_runner(tmp_path / "runner", out)
    subprocess.run([str(exe), str(out / "vectors.bin"), str(tmp_path / "o.bin")], check=True, timeout=120)
    assert (tmp_path / "o.bin").read_bytes() == (out / "expected.bin").read_bytes()
    text = (out / "vectors.h").read_text()
    first = text.index("static const int32_t up_vec0_scores[")
    head, rest = text[:first], text[first:]
    value = rest.split("{\n    ", 1)[1].split(",", 1)[0]
    (out / "vectors.h").write_text(head + rest.replace(value, str(int(value) + 1), 1))
    proc = _host_run([tmp_path / "selftest.c"], [out, fw.csrc_dir()], tmp_path / "selftest2", tmp_path)
    assert proc.returncode == 1 and "retinaface_packed/0_random: differs" in proc.stdout


@pytest.mark.parametrize("kind", ["s8", "f32"])
def test_vectors_packed_from_the_shared_photos(kind, tmp_path):
    """Without --inputs, at 640x640 the set is the shared photos through the shared model (onnxruntime): expected
    faces are ultrapost.RetinaFace(preset="pytorch_retinaface")'s on the model's own tensor, nasa_group.jpg's 14
    people at score >= 0.6 among them."""
    require("retinaface/retinaface_mnet025_640_int8_int8out.onnx")
    require("retinaface/retinaface_mnet025_640.onnx")
    require("images/nasa_group.jpg")
    require_module("onnxruntime", "onnxruntime")
    from ultrapost.firmware.photos import retinaface_photos

    out = tmp_path / "set"
    assert (
        cli.main(["vectors", "--family", "retinaface_packed", "--input-kind", kind, "--photos", "2", "-o", str(out)])
        == 0
    )
    vset = vs.read_set(out)
    assert vset.names[:2] == ["retinaface_packed/photo_nasa_group", "retinaface_packed/photo_ultraface_1"]
    assert len(vset.names) == 6  # no generated cases when the photos are there, four error records
    rf = ultrapost.RetinaFace(input_size=640, **MNET, logits=True, preset="pytorch_retinaface")
    for (name, packed, quant), e in zip(retinaface_photos(2, kind == "s8"), vset.expected[:2], strict=True):
        want = rf.postprocess(packed, quantization=quant).fixed
        assert np.array_equal(e.anchors, want["anchors"]) and np.array_equal(e.boxes, want["boxes"]), name
        assert np.array_equal(e.scores, want["scores"]) and np.array_equal(e.keypoints, want["keypoints"]), name
    assert int((vset.expected[0].scores >= round(0.6 * 2**30)).sum()) == 14
    assert vset.vectors[0].data.size == 16800 * 16 and vset.vectors[0].element_size == (1 if kind == "s8" else 4)
    assert (
        cli.main(["vectors", "--family", "retinaface_packed", "--score-scale", "0.1", "-o", str(tmp_path / "b")]) == 1
    )


def test_firmware_check_runs_a_packed_set(tmp_path, capsys):
    """A packed set (int8 and float32 converted) through firmware-check on the M33 board: every record identical.
    (Instruction counts of packed records: tests/test_firmware.py's board runs.)"""
    require_tool(fw.toolchain_available() and fw.qemu_available(), "arm-none-eabi-gcc and qemu-system-arm")
    sets = []
    for kind in ("s8", "f32"):
        out = tmp_path / kind
        args = ["vectors", "--family", "retinaface_packed", "--input-size", "96x64", "--input-kind", kind]
        assert (
            cli.main([*args, "--cases", "3", "--score-threshold", "0.3", "--name", f"rf_{kind}", "-o", str(out)]) == 0
        )
        sets += ["--vectors", str(out)]
    capsys.readouterr()
    check = ["firmware-check", "--board", "an505", *sets, "--no-suite", "--no-footprint", "--json"]
    assert cli.main([*check, "--work-dir", str(tmp_path / "w")]) == 0
    report = json.loads(capsys.readouterr().out)
    b = report["boards"]["an505"]
    assert report["ok"] and b["records"] == b["identical"] == 14 and b["mismatches"] == 0
    assert all(s["guards_intact"] for s in b["sets"])
