"""YuNet in `ultrapost codegen`, `vectors` and `firmware-check`: the generated up_yunet_config_t is the Python
config member for member, vector sets self-check in C through up_yunet_run, recorded photo outputs become vectors,
and a YuNet set runs on a board. (YuNet's board records in the shared suite: tests/test_firmware.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from conftest import require, require_tool

from ultrapost import cli
from ultrapost import firmware as fw
from ultrapost.core.yunet_config import LEVELS, OUTPUT_NAMES
from ultrapost.firmware import vectorsets as vs
from ultrapost.firmware.photos import yunet_photo

FIELDS = ("input_kind", "pad_w", "pad_h", "product_bound", "nms_bound", "top_k", "max_detections", "lone_rule")
FIELDS += ("iou_keep_all", "iou_mid_inclusive", "iou_mid_e", "iou_mid_m")
TABLES = ("cls_lut", "obj_lut", "center_lut", "size_lut", "kps_lut")


def need_host_gcc():
    require_tool(shutil.which("gcc") is not None, "host gcc")


def _host_run(sources, include_dirs, exe, cwd):
    cmd = ["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", *(f"-I{d}" for d in include_dirs)]
    cmd += [*map(str, sources), *map(str, fw.core_sources()), str(fw.csrc_dir() / "up_yunet.c"), "-o", str(exe)]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, cwd=cwd)


def _spec(args):
    from ultrapost.cli.model_options import spec_from_args

    return spec_from_args(cli.build_parser().parse_args(["codegen", *args]))


@pytest.mark.parametrize(
    "args",
    [
        ["--family", "yunet", "--input-size", "320x240", "--score-threshold", "0.6", "--name", "yn_s8"],
        ["--family", "yunet", "--input-size", "100x70", "--input-kind", "f32", "--candidate-limit", "50",
         "--max-detections", "9", "--yunet-preset", "single-test", "--iou-threshold", "0.45", "--name", "yn_f32"],
    ],
)  # fmt: skip
def test_codegen_yunet_header_is_the_python_config(args, tmp_path):
    need_host_gcc()
    spec = _spec(args)
    header = tmp_path / f"cfg_{spec.name}.h"
    assert cli.main(["codegen", *args, "-o", str(header)]) == 0
    fc, _ = spec.firmware_config()
    text = header.read_text()
    assert f"static const up_yunet_config_t {spec.name}_config" in text
    p = spec.name
    lines = ["#include <stdio.h>", f'#include "cfg_{p}.h"', "int main(void) {"]
    lines.append(f"    const up_yunet_config_t *c = &{p}_config;")
    lines += [f'    printf("{f} %llu\\n", (unsigned long long)(int64_t)c->{f});' for f in FIELDS if f != "iou_mid_m"]
    lines.append('    printf("iou_mid_m %llu\\n", (unsigned long long)c->iou_mid_m);')
    for t in TABLES:
        lines.append(f'    printf("{t}");')
        lines.append(f"    for (int l = 0; l < {LEVELS}; l++) {{")
        lines.append(f'        for (int i = 0; c->{t}[l] && i < 256; i++) printf(" %ld", (long)c->{t}[l][i]);')
        lines += ["    }", '    printf("\\n");']
    lines.append(
        '    printf("check %ld %lu %d %d\\n", (long)up_yunet_check_config(c), '
        f"(unsigned long)up_yunet_scratch_size(c), {p.upper()}_SCRATCH_BYTES, {p.upper()}_NUM_POINTS);"
    )
    lines += ["    return 0;", "}"]
    (tmp_path / "probe.c").write_text("\n".join(lines) + "\n")
    proc = _host_run([tmp_path / "probe.c"], [tmp_path, fw.csrc_dir()], tmp_path / "probe", tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = {line.split()[0]: [int(v) for v in line.split()[1:]] for line in proc.stdout.splitlines()}
    for f in FIELDS:
        assert got[f] == [int(getattr(fc, f)) % 2**64], f
    for t in TABLES:
        want = [] if getattr(fc, t) is None else np.concatenate(getattr(fc, t)).tolist()
        assert got[t] == want, t
    assert (fc.cls_lut is None) == (spec.input_kind == "f32")
    assert got["check"] == [0, fw.scratch_size(fc), fw.scratch_size(fc), fc.num_points]


SELFTEST = r"""
#include <stdio.h>
#include <string.h>
#include "vectors.h"

/* A board's self-test of a YuNet set: every record through up_yunet_run, compared with the golden outputs. */
int main(void)
{
    static int32_t boxes[8192][4], scores[8192], anchors[8192], keypoints[8192][UP_YUNET_KPS];
    static uint32_t scratch[1 << 16];
    static const int32_t strides[3] = {8, 16, 32};
    static const size_t widths[4] = {1, 1, 4, UP_YUNET_KPS};
    int bad = 0;
    for (int i = 0; i < UP_NUM_VECTORS; i++) {
        const up_vector_t *v = &up_vectors[i];
        const up_yunet_config_t *cfg = up_fw_yunet_configs[v->config_id];
        if (!cfg || up_fw_configs[v->config_id] || up_yunet_check_config(cfg) != UP_OK) return 2;
        up_yunet_tensors_t t;
        const void **slots[4] = {t.cls, t.obj, t.bbox, t.kps};
        const char *p = (const char *)v->data;
        for (int kind = 0; kind < 4; kind++) {
            for (int lv = 0; lv < 3; lv++) {
                slots[kind][lv] = p;
                size_t points = (size_t)(cfg->pad_w / strides[lv]) * (size_t)(cfg->pad_h / strides[lv]);
                p += points * widths[kind] * v->element_size;
            }
        }
        up_output_t out = {0};
        out.boxes = &boxes[0][0];
        out.scores = scores;
        out.anchors = anchors;
        out.keypoints = &keypoints[0][0];
        out.capacity = v->capacity < 0 ? cfg->max_detections : v->capacity;
        size_t sb = v->scratch_bytes < 0 ? up_yunet_scratch_size(cfg) : (size_t)v->scratch_bytes;
        if (sb > sizeof scratch || v->num_keypoints != 5) return 2;
        int32_t st = up_yunet_run(cfg, &t, scratch, sb, &out);
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
def test_vectors_yunet_self_test_in_c(kind, tmp_path):
    """A YuNet vector set (generated cases of every mode and the two error records) passes the C self-test; a
    changed expected value in vectors.h is caught."""
    need_host_gcc()
    out = tmp_path / "set"
    args = ["vectors", "--family", "yunet", "--input-size", "96x64", "--input-kind", kind, "--cases", "6"]
    assert cli.main([*args, "--score-threshold", "0.5", "-o", str(out)]) == 0
    vset = vs.read_set(out)
    assert vset.manifest["configs"][0]["num_anchors"] == 126 and vset.manifest["configs"][0]["num_keypoints"] == 5
    assert [e.status for e in vset.expected][-2:] == [-4, -3]
    assert sum(len(e) for e in vset.expected) > 20 and all(e.num_keypoints == 5 for e in vset.expected)
    (tmp_path / "selftest.c").write_text(SELFTEST)
    proc = _host_run([tmp_path / "selftest.c"], [out, fw.csrc_dir()], tmp_path / "selftest", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "8 of 8 identical" in proc.stdout
    text = (out / "vectors.h").read_text()
    first = text.index("static const int32_t up_vec0_scores[")
    head, rest = text[:first], text[first:]
    value = rest.split("{\n    ", 1)[1].split(",", 1)[0]
    (out / "vectors.h").write_text(head + rest.replace(value, str(int(value) + 1), 1))
    proc = _host_run([tmp_path / "selftest.c"], [out, fw.csrc_dir()], tmp_path / "selftest2", tmp_path)
    assert proc.returncode == 1 and "yunet/0_random: differs" in proc.stdout


def test_vectors_yunet_from_recorded_outputs(tmp_path):
    """Outputs of the int8 model on photos (.npz, NAME_cls_8 ...) become records whose expected faces are
    ultrapost.YuNet's on the same outputs (nasa_group.jpg: 14 at 0.6)."""
    require("yunet/face_detection_yunet_2026may_int8_320_int8out.onnx")
    from ultrapost.families.yunet import YuNet

    frames = {}
    for name in ("nasa_group", "ultraface_10"):
        outputs, quant = yunet_photo(f"images/{require(f'images/{name}.jpg').stem}.jpg", (320, 320))
        frames.update({f"{name}_{k}": v for k, v in outputs.items()})
    np.savez(tmp_path / "photos.npz", **frames)
    out = tmp_path / "set"
    args = ["vectors", "--family", "yunet", "--score-threshold", "0.6", "--inputs", str(tmp_path / "photos.npz")]
    assert cli.main([*args, "--no-errors", "-o", str(out)]) == 0
    vset = vs.read_set(out)
    assert vset.names == ["yunet/nasa_group", "yunet/ultraface_10"]
    yn = YuNet((320, 320), 0.6, 0.3, 5000)
    for name, e in zip(("nasa_group", "ultraface_10"), vset.expected, strict=True):
        want = yn.run_fixed({k: frames[f"{name}_{k}"] for k in OUTPUT_NAMES}, quant)
        assert np.array_equal(e.boxes, want["boxes"]) and np.array_equal(e.keypoints, want["keypoints"])
        assert np.array_equal(e.scores, want["scores"]) and np.array_equal(e.anchors, want["anchors"])
    assert len(vset.expected[0]) == 14
    np.savez(tmp_path / "bad.npz", **{k: v for k, v in frames.items() if not k.endswith("kps_32")})
    assert cli.main([*args[:-1], str(tmp_path / "bad.npz"), "-o", str(tmp_path / "bad")]) == 1


@pytest.mark.parametrize(
    "args, words",
    [
        (["--nms", "blend"], "--nms blend"),
        (["--score-scale", "0.01"], "--score-scale"),
        (["--input-kind", "i32"], "int8 (s8) or float32"),
        (["--logits"], "--logits"),
    ],
)
def test_yunet_options_refuse_what_yunet_has_not(args, words, tmp_path, capsys):
    assert cli.main(["codegen", "--family", "yunet", *args, "-o", str(tmp_path / "h.h")]) == 1
    assert words in capsys.readouterr().err


def test_yunet_preset_needs_the_yunet_family(tmp_path, capsys):
    assert cli.main(["codegen", "--yunet-preset", "opencv", "-o", str(tmp_path / "h.h")]) == 1
    assert "--family yunet" in capsys.readouterr().err


def test_firmware_check_runs_a_yunet_set(tmp_path, capsys):
    require_tool(fw.toolchain_available() and fw.qemu_available(), "arm-none-eabi-gcc and qemu-system-arm")
    out = tmp_path / "set"
    args = ["vectors", "--family", "yunet", "--input-size", "64x64", "--input-kind", "f32", "--cases", "4"]
    assert cli.main([*args, "--score-threshold", "0.5", "-o", str(out)]) == 0
    capsys.readouterr()
    check = ["firmware-check", "--board", "an505", "--vectors", str(out), "--no-suite", "--no-footprint"]
    assert cli.main([*check, "--count", "--json", "--work-dir", str(tmp_path / "w")]) == 0
    report = json.loads(capsys.readouterr().out)
    s = report["boards"]["an505"]["sets"][0]
    assert report["ok"] and s["identical"] == s["records"] == 6
    assert all(n > 0 for n in s["instructions"].values())
