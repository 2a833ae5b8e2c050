"""`ultrapost codegen`, `vectors` and `firmware-check`: generated C compiles for the host and the boards and holds
exactly the Python config; vector sets round-trip and self-check in C; firmware-check passes and catches a bad byte.

Toolchain-dependent tests skip without gcc / arm-none-eabi-gcc / qemu (and fail under ULTRAPOST_REQUIRE_DATA=1).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess

import numpy as np
import pytest
from conftest import require_tool

import ultrapost
from ultrapost import cli, golden
from ultrapost import firmware as fw
from ultrapost.cli import codegen
from ultrapost.firmware import vectorsets as vs
from ultrapost.firmware.inputs import spec_inputs, ultraslim_frame
from ultrapost.firmware.spec import NMS_KINDS, ModelSpec

SPEC_ARGS = {
    "ultraslim": ["--family", "ultraslim"],
    "uf_s8": [
        "--input-size",
        "128x96",
        "--score-scale",
        "0.00390625",
        "--score-zero-point",
        "-128",
        "--box-scale",
        "0.05",
        "--box-zero-point",
        "3",
        "--name",
        "uf_s8",
    ],
    "uf_f32_logits": [
        "--input-size",
        "160x120",
        "--input-kind",
        "f32",
        "--logits",
        "--priors",
        "stride",
        "--clip",
        "--max-detections",
        "9",
        "--name",
        "uf_f32_logits",
    ],
    "uf_i32_corners": [
        "--input-size",
        "64x48",
        "--input-kind",
        "i32",
        "--decoded",
        "--candidate-limit",
        "none",
        "--name",
        "uf_i32_corners",
    ],
}


def need_host_gcc():
    require_tool(shutil.which("gcc") is not None, "host gcc")


def need_arm():
    require_tool(fw.toolchain_available(), "arm-none-eabi-gcc with newlib")


def spec_of(args):
    return cli.build_parser().parse_args(["codegen", *args])


def _host_run(sources, include_dirs, exe, tmp_path):
    cmd = ["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", *(f"-I{d}" for d in include_dirs)]
    cmd += [*map(str, sources), *map(str, fw.core_sources()), "-o", str(exe)]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, cwd=tmp_path)


def _printer(prefix: str) -> str:
    """A C program printing every up_config_t member of <prefix>_config, tables entry by entry."""
    lines = [
        "#include <stdio.h>",
        f'#include "cfg_{prefix}.h"',
        "int main(void) {",
        f"    const up_config_t *c = &{prefix}_config;",
        "    int32_t i;",
    ]
    for ctype, name in fw.config_fields():
        if ctype.endswith("*"):
            lines += [
                f'    printf("{name}");',
                f'    if (c->{name}) for (i = 0; i < {name.upper()}_N; i++) printf(" %ld", (long)c->{name}[i]);',
                '    printf("\\n");',
            ]
        else:
            lines.append(f'    printf("{name} %lld\\n", (long long)c->{name});')
    lines += [
        f'    printf("check %ld %lu %d\\n", (long)up_check_config(c), '
        f"(unsigned long)up_scratch_size(c), {prefix.upper()}_SCRATCH_BYTES);",
        "    return 0;",
        "}",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("which", sorted(SPEC_ARGS))
def test_codegen_header_is_the_python_config(which, tmp_path):
    need_host_gcc()
    args = SPEC_ARGS[which]
    spec = _spec(args)
    header = tmp_path / f"cfg_{spec.name}.h"
    assert cli.main(["codegen", *args, "-o", str(header)]) == 0
    fc, core = spec.firmware_config()
    text = header.read_text()
    assert f"static const up_config_t {spec.name}_config" in text
    tables = fc.tables()
    pointers = [n for c, n in fw.config_fields() if c.endswith("*")]
    defines = "".join(f"#define {n.upper()}_N {tables[n].size if n in tables else 0}\n" for n in pointers)
    (tmp_path / "probe.c").write_text(defines + _printer(spec.name))
    proc = _host_run([tmp_path / "probe.c"], [tmp_path, fw.csrc_dir()], tmp_path / "probe", tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = {}
    for line in proc.stdout.splitlines():
        name, *vals = line.split()
        got[name] = [int(v) for v in vals]
    for name, value in fc.scalars().items():
        assert got[name] == [value], name
    for _ctype, name in fw.config_fields():
        if _ctype.endswith("*"):
            want = fc.tables()[name].reshape(-1).tolist() if name in fc.tables() else []
            assert got[name] == want, name
    check, scratch, macro = got["check"][0], got["check"][1], got["check"][2]
    assert check == 0 and scratch == macro == fw.scratch_size(fc) > 0  # the C's up_scratch_size
    if spec.input_kind == "f32":
        assert fc.input_kind == 1 and "converted on the host" in text  # the firmware reads the int32 boundary


def _spec(args):
    from ultrapost.cli.model_options import spec_from_args

    return spec_from_args(spec_of(args))


@pytest.mark.parametrize("board", ["an386", "an505", "m0plus"])
def test_codegen_header_compiles_for_the_boards_with_the_core(board, tmp_path):
    need_arm()
    assert cli.main(["codegen", "--family", "ultraslim", "-o", str(tmp_path / "cfg_ultraslim.h")]) == 0
    src = tmp_path / "app.c"
    src.write_text(
        '#include "ultrapost.h"\n#include "cfg_ultraslim.h"\n'
        "static uint32_t scratch[(ULTRASLIM_SCRATCH_BYTES + 3) / 4];\n"
        "static int32_t boxes[ULTRASLIM_MAX_DETECTIONS][4], scores[ULTRASLIM_MAX_DETECTIONS], "
        "anchors[ULTRASLIM_MAX_DETECTIONS];\n"
        "int32_t app_run(const int8_t *t);\n"
        "int32_t app_run(const int8_t *t) {\n"
        "    up_output_t out = {0};\n"
        "    if (up_check_config(&ultraslim_config) != UP_OK) return -100;\n"
        "    out.boxes = &boxes[0][0]; out.scores = scores; out.anchors = anchors;\n"
        "    out.capacity = ULTRASLIM_MAX_DETECTIONS;\n"
        "    return up_run(&ultraslim_config, t, ULTRASLIM_SCORE_STRIDE, t + ULTRASLIM_BOX_OFFSET,"
        " ULTRASLIM_BOX_STRIDE, scratch, sizeof scratch, &out);\n}\n"
    )
    objs = fw.compile_sources(
        board,
        [src, *fw.core_sources()],
        tmp_path / "o",
        include_dirs=(tmp_path, fw.csrc_dir()),
        extra=tuple(fw.freestanding_flags()),
    )
    assert len(objs) == 1 + len(fw.core_sources())


@pytest.mark.parametrize(
    "args, words",
    [
        (["--family", "ultraslim", "--logits"], "no --logits"),
        (["--logits", "--decoded"], "choose --logits or --decoded"),
        (["--family", "ultraslim", "--score-scale", "0.01", "--box-scale", "0.02"], "share one scale"),
        (["--name", "Bad-Name"], "C identifier"),
        (["--score-threshold", "1.5"], "score_threshold"),
        (["--host", "--input-kind", "s8"], "--input-kind f32"),
        (["--family", "blazeface", "--eps", "0"], "no --eps"),
    ],
)
def test_codegen_refuses_contradictions(args, words, tmp_path, capsys):
    assert cli.main(["codegen", *args, "-o", str(tmp_path / "x.h")]) == 1
    assert words in capsys.readouterr().err
    assert not (tmp_path / "x.h").exists()


def test_codegen_host_writes_the_float32_config_of_the_python_api(tmp_path):
    """--host: the config up_run_f32 reads (input kind F32), equal to the Python API's -- here the ncnn preset,
    which needs --eps 0 (the default IoU epsilon is predict()'s 1e-5)."""
    header = tmp_path / "cfg_ultraface.h"
    args = ["--priors", "stride", "--clip", "--nms", "blend", "--pixel-size", "320x240", "--candidate-limit", "none"]
    assert cli.main(["codegen", "--host", "--name", "ultraface", *args, "--eps", "0", "-o", str(header)]) == 0
    fc = ultrapost.Ultraface.preset("ncnn", input_size=(320, 240)).config("f32", False)[0]
    assert int(fc.input_kind) == 2
    body = header.read_text().split("static const up_config_t")[1]
    assert body == fw.config_header("ultraface", fc).split("static const up_config_t")[1]
    assert "ULTRAFACE_SCRATCH_BYTES" not in header.read_text()  # the host's scratch is up_scratch_size_f32(cfg)
    # without --eps the epsilon differs from the preset's
    assert cli.main(["codegen", "--host", "--name", "ultraface", *args, "-o", str(header)]) == 0
    assert header.read_text().split("static const up_config_t")[1] != body


def test_help_teaches_the_options(capsys):
    for cmd in ("codegen", "vectors", "firmware-check"):
        with pytest.raises(SystemExit):
            cli.main([cmd, "--help"])
        out = capsys.readouterr().out
        assert "examples:" in out
        if cmd != "firmware-check":
            assert "--input-kind" in out and "ultraslim" in out and "Q20" in out


# -- vectors ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", sorted(SPEC_ARGS))
def test_vectors_round_trip(which, tmp_path):
    out = tmp_path / "set"
    assert cli.main(["vectors", *SPEC_ARGS[which], "-o", str(out), "--cases", "4", "--seed", "3"]) == 0
    spec = _spec(SPEC_ARGS[which])
    vset = vs.read_set(out)
    assert len(vset.vectors) == 4 + 3 and vset.manifest["configs"][0]["spec"] == spec.to_json()
    want = vs.generated_records(spec, 0, 4, 3)
    fc_host, _ = spec.host_config()
    fc_fw, _ = spec.firmware_config()
    for r, v, e in zip(want, vset.vectors, vset.expected, strict=True):
        assert v.data.dtype == r.vector.data.dtype and np.array_equal(v.data, r.vector.data)
        assert (v.score_offset, v.score_stride, v.box_offset, v.box_stride, v.capacity, v.scratch_bytes) == (
            r.vector.score_offset,
            r.vector.score_stride,
            r.vector.box_offset,
            r.vector.box_stride,
            r.vector.capacity,
            r.vector.scratch_bytes,
        )
        assert e.equals(r.expected)
    # The expected outputs are the golden model's on the record's own tensors.
    for v, e in zip(vset.vectors[:4], vset.expected[:4], strict=True):
        rows = v.data.reshape(-1, v.box_stride) if spec.single_tensor else None
        if rows is not None:
            s, b = rows[:, :2], rows[:, 2:]
        else:
            n = fc_fw.num_anchors
            s, b = v.data[: 2 * n].reshape(n, 2), v.data[2 * n :].reshape(n, 4)
        g = golden.run(fc_fw, s, b)
        assert e.equals(fw.OutputRecord(0, g["boxes"], g["scores"], g["anchors"]))
    assert (fc_fw.input_kind == 1) == (spec.input_kind in ("i32", "f32")) and fc_host.input_kind == {
        "s8": 0,
        "i32": 1,
        "f32": 2,
    }[spec.input_kind]
    assert [e.status for e in vset.expected[4:]] == [-4, -3, -5]
    assert sum(len(e) for e in vset.expected) > 0


def test_vectors_from_npz(tmp_path):
    spec = ModelSpec.ultraslim()
    frames = {f"f{i}": spec_inputs(spec, *ultraslim_frame(i)) for i in range(2)}
    np.savez(tmp_path / "in.npz", **{k: np.concatenate(v, axis=1)[None] for k, v in frames.items()})
    assert (
        cli.main(
            [
                "vectors",
                "--family",
                "ultraslim",
                "--inputs",
                str(tmp_path / "in.npz"),
                "--no-errors",
                "-o",
                str(tmp_path / "set"),
            ]
        )
        == 0
    )
    vset = vs.read_set(tmp_path / "set")
    assert vset.names == ["ultraslim/f0", "ultraslim/f1"]
    assert np.array_equal(vset.vectors[1].data.reshape(172, 6), np.concatenate(frames["f1"], axis=1))
    assert all(len(e) == 3 for e in vset.expected)  # three faces in each frame
    np.savez(tmp_path / "bad.npz", f0=np.zeros((172, 6), np.float32))
    assert (
        cli.main(
            ["vectors", "--family", "ultraslim", "--inputs", str(tmp_path / "bad.npz"), "-o", str(tmp_path / "bad")]
        )
        == 1
    )


SELFTEST = r"""
#include <stdio.h>
#include <string.h>
#include "vectors.h"

/* What a board's self-test does with vectors.h: every record through up_run, compared with the golden outputs. */
int main(void)
{
    static int32_t boxes[8192][4], scores[8192], anchors[8192], keypoints[8192][2 * UP_MAX_KEYPOINTS], labels[8192];
    static uint32_t scratch[1 << 14];
    int bad = 0;
    for (int i = 0; i < UP_NUM_VECTORS; i++) {
        const up_vector_t *v = &up_vectors[i];
        const up_config_t *cfg = up_fw_configs[v->config_id];
        const char *d = (const char *)v->data;
        up_output_t out = {0};
        out.boxes = &boxes[0][0];
        out.scores = scores;
        out.anchors = anchors;
        out.keypoints = v->num_keypoints ? &keypoints[0][0] : NULL;
        out.labels = cfg->num_labels ? labels : NULL;
        out.capacity = v->capacity < 0 ? cfg->max_detections * (cfg->num_labels ? cfg->num_labels : 1) : v->capacity;
        size_t sb = v->scratch_bytes < 0 ? up_scratch_size(cfg) : (size_t)v->scratch_bytes;
        if (up_check_config(cfg) != UP_OK || sb > sizeof scratch) return 2;
        int32_t st = up_run(cfg, d + v->score_offset * v->element_size, v->score_stride,
                            d + v->box_offset * v->element_size, v->box_stride, scratch, sb, &out);
        size_t k = (size_t)v->count;
        if (st != v->status || (st == UP_OK && (out.count != v->count ||
            (k && (memcmp(boxes, v->boxes, 16 * k) || memcmp(scores, v->scores, 4 * k) ||
                   memcmp(anchors, v->anchors, 4 * k) ||
                   (v->num_keypoints && memcmp(keypoints, v->keypoints, 8 * k * v->num_keypoints)) ||
                   (v->labels && memcmp(labels, v->labels, 4 * k))))))) {
            printf("%s: differs\n", v->name);
            bad++;
        }
    }
    printf("%d of %d identical\n", UP_NUM_VECTORS - bad, UP_NUM_VECTORS);
    return bad != 0;
}
"""


def test_vectors_header_self_test_in_c(tmp_path):
    """vectors.h + configs.h compiled with the core: every record comes out as expected.bin says; a changed
    expected byte in the header is caught."""
    need_host_gcc()
    out = tmp_path / "set"
    assert cli.main(["vectors", "--family", "ultraslim", "--input-kind", "f32", "-o", str(out)]) == 0
    (tmp_path / "selftest.c").write_text(SELFTEST)
    proc = _host_run([tmp_path / "selftest.c"], [out, fw.csrc_dir()], tmp_path / "selftest", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "10 of 10 identical" in proc.stdout
    text = (out / "vectors.h").read_text()
    first = text.index("static const int32_t up_vec0_scores[")
    head, rest = text[:first], text[first:]
    value = rest.split("{\n    ", 1)[1].split(",", 1)[0]
    (out / "vectors.h").write_text(head + rest.replace(value, str(int(value) + 1), 1))
    proc = _host_run([tmp_path / "selftest.c"], [out, fw.csrc_dir()], tmp_path / "selftest2", tmp_path)
    assert proc.returncode == 1 and "ultraslim/0_random: differs" in proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--family", "blazeface", "--input-kind", "f32", "--nms", "blend", "--name", "bf"],
        ["--family", "blazeface", "--input-size", "192", "--input-kind", "s8", "--name", "bf_full"],
        ["--input-size", "128x96", "--class-thresholds", "0.6,0.7", "--nms", "soft-linear", "--name", "classes"],
        [
            "--input-size",
            "96x72",
            "--input-kind",
            "i32",
            "--nms",
            "weighted",
            "--score-test",
            ">=",
            "--pixel-size",
            "96x72",
            "--name",
            "weighted_pad",
        ],
    ],
)
def test_vectors_header_self_test_keypoints_labels_nms(args, tmp_path):
    """Sets with keypoints (BlazeFace), labels (multi-class) and the other NMS kinds pass the C self-test, whose
    comparison covers keypoints and labels."""
    need_host_gcc()
    out = tmp_path / "set"
    assert cli.main(["vectors", *args, "--cases", "3", "-o", str(out)]) == 0
    vset = vs.read_set(out)
    assert sum(len(e) for e in vset.expected) > 0
    if "blazeface" in args:
        assert all(e.num_keypoints == 6 for e in vset.expected)
        n = 2304 if "192" in args else 896
        assert vset.manifest["configs"][0]["num_anchors"] == n
    if "--class-thresholds" in args:
        assert {int(v) for e in vset.expected for v in e.labels} == {1, 2}
    (tmp_path / "selftest.c").write_text(SELFTEST)
    proc = _host_run([tmp_path / "selftest.c"], [out, fw.csrc_dir()], tmp_path / "selftest", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 of 6 identical" in proc.stdout


def test_vectors_header_compiles_for_a_board(tmp_path):
    need_arm()
    out = tmp_path / "set"
    assert cli.main(["vectors", "--family", "ultraslim", "--cases", "2", "-o", str(out)]) == 0
    src = tmp_path / "use.c"
    src.write_text(
        '#include "vectors.h"\nint32_t first_status(void);\n'
        "int32_t first_status(void) { return up_vectors[0].status + up_check_config(up_fw_configs[0]); }\n"
    )
    fw.compile_sources(
        "an505", [src], tmp_path / "o", include_dirs=(out, fw.csrc_dir()), extra=tuple(fw.freestanding_flags())
    )


def test_read_set_names_what_is_wrong(tmp_path):
    assert cli.main(["vectors", "--family", "ultraslim", "--cases", "1", "--no-errors", "-o", str(tmp_path)]) == 0
    (tmp_path / "expected.bin").write_bytes((tmp_path / "expected.bin").read_bytes()[:-4])
    with pytest.raises(ValueError, match="truncated"):
        vs.read_set(tmp_path)
    (tmp_path / "vectors.h").unlink()
    with pytest.raises(FileNotFoundError, match="vectors.h"):
        vs.read_set(tmp_path)


# -- firmware-check ----------------------------------------------------------------------------------------------


def need_boards():
    need_arm()
    require_tool(fw.qemu_available(), "qemu-system-arm")


def test_firmware_check_all_boards_json(tmp_path, capsys):
    need_boards()
    code = cli.main(["firmware-check", "--board", "all", "--json", "--work-dir", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] is True
    assert set(report["boards"]) == {"an386", "an505"}
    configs = vs.read_set(tmp_path / "suite").manifest["configs"]
    assert {c["spec"]["input_kind"] for c in configs} == {"s8", "i32", "f32"}
    # Every kind of configuration the core supports: each NMS kind, BlazeFace short and full range with keypoints
    # (int8, int32, float converted), multi-class labels, "+1 pixel" areas and ">=" score tests.
    assert {c["spec"]["nms"] for c in configs} == set(NMS_KINDS)
    blaze = [c for c in configs if c["spec"]["family"] == "blazeface"]
    assert {c["num_anchors"] for c in blaze} == {896, 2304} and all(c["num_keypoints"] == 6 for c in blaze)
    assert {c["spec"]["input_kind"] for c in blaze} == {"s8", "i32", "f32"}
    yunet = [c for c in configs if c["spec"]["family"] == "yunet"]
    assert {c["spec"]["input_kind"] for c in yunet} == {"s8", "f32"} and all(c["num_keypoints"] == 5 for c in yunet)
    assert {c["spec"]["preset"] for c in yunet} == {"opencv", "single-test"}
    packed = [c for c in configs if c["spec"]["family"] == "retinaface_packed"]
    assert {c["spec"]["input_kind"] for c in packed} == {"s8", "f32"} and all(c["num_keypoints"] == 5 for c in packed)
    assert any(c["num_labels"] > 1 for c in configs)
    assert any(c["spec"]["pixel_size"] for c in configs) and any(c["spec"]["score_test"] == ">=" for c in configs)
    for board, b in report["boards"].items():
        assert b["records"] == b["identical"] >= 100 and b["mismatches"] == 0, board
        assert all(s["guards_intact"] and s["error"] is None for s in b["sets"])
        for build in ("full", "minimal"):
            f = b["footprint"][build]
            assert f["text"] > 1000 and f["rodata"] >= 0 and f["stack_static"] > 0
            assert f["float_or_heap_symbols"] == [] and f["stack_unbounded"] == []
        assert b["footprint"]["minimal"]["text"] <= b["footprint"]["full"]["text"]
        slim = b["ultraslim"]
        assert slim["identical"] and slim["frame"] > 0
        assert slim["records"]["frame_3_faces"]["detections"] == 3
        # YuNet int8 on a 320x320 frame: identical, counted, its own code and stack measured.
        yn = b["yunet"]
        assert yn["identical"] and yn["records"]["scan_only"]["instructions"] > 2100
        assert yn["records"]["scan_only"]["detections"] == 0
        assert 1000 < yn["text"] < 8000 and "up_yunet" in yn["by_object"]
        assert 0 < yn["stack_measured"] <= yn["stack_static"]
        # The packed RetinaFace at 640x640 (nasa_group.jpg through the int8 and float models): identical, counted.
        rfp = b["retinaface_packed"]
        assert rfp["records"] == rfp["identical"] == 3 and rfp["counted_identical"] and rfp["instructions"] > 16800
        if "rfp640_s8/photo_nasa_group" in rfp["by_record"]:  # the shared data is there
            assert rfp["by_record"]["rfp640_s8/photo_nasa_group"]["faces_0_6"] == 14
        # The measured high-water mark stays within the static bound of the full build.
        assert max(s["max_stack"] for s in b["sets"]) <= b["footprint"]["full"]["stack_static"]
        assert set(b["targets_met"]) >= {"core_text", "ultraslim_scratch", "stack", "ultraslim_instructions"}
        # The pre-processing stage: every record identical, the camera case counted, whole frames when the data is
        # there (tests/test_firmware_preprocess.py checks each part).
        pre = b["preprocess"]
        assert pre["records"] == pre["identical"] >= 14 and pre["mismatches"] == []
        assert set(pre["instructions_per_output_pixel_by_interpolation"]) == {"pil", "cv2", "nearest"}
        per_pixel = pre["instructions_per_output_pixel_by_interpolation"]
        assert pre["instructions_per_output_pixel"] == per_pixel["pil"]
        assert 0 < per_pixel["nearest"] < per_pixel["cv2"] < per_pixel["pil"]  # 1x1, 2x2 and 3x2 taps
        assert 0 < pre["stack_measured"] <= pre["stack_static"] and pre["float_or_heap_symbols"] == []
        if os.environ.get("ULTRAPOST_REQUIRE_DATA") == "1" or pre["whole_frame"] is not None:
            assert pre["whole_frame"]["identical"] == pre["whole_frame"]["records"] == 6
    assert report["scratch_bytes"]["ultraslim_s8"] > 0
    # Both boards count the same number of instructions to within the ISA differences, and deterministically.
    assert (
        report["boards"]["an386"]["ultraslim"]["records"].keys()
        == report["boards"]["an505"]["ultraslim"]["records"].keys()
    )


def test_firmware_check_fails_on_a_corrupted_expected_file(tmp_path, capsys):
    need_boards()
    out = tmp_path / "set"
    assert cli.main(["vectors", "--family", "ultraslim", "--cases", "2", "-o", str(out)]) == 0
    args = [
        "firmware-check",
        "--board",
        "an505",
        "--vectors",
        str(out),
        "--no-suite",
        "--no-footprint",
        "--work-dir",
        str(tmp_path / "w"),
    ]
    assert cli.main(args) == 0
    capsys.readouterr()
    raw = bytearray((out / "expected.bin").read_bytes())
    status, count = struct.unpack_from("<ii", raw, 16)
    assert status == 0 and count > 0
    pos = 16 + 16 + 16 * count  # the first record's first score
    raw[pos] ^= 1
    (out / "expected.bin").write_bytes(bytes(raw))
    assert cli.main([*args, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    s = report["boards"]["an505"]["sets"][0]
    assert report["ok"] is False and s["identical"] == s["records"] - 1
    assert s["mismatches"] == ["ultraslim/0_random: scores differ"]


def test_firmware_check_needs_something_to_run(tmp_path, capsys):
    need_boards()
    assert cli.main(["firmware-check", "--no-suite", "--work-dir", str(tmp_path)]) == 1
    assert "--no-suite needs" in capsys.readouterr().err


def test_codegen_module_header_text_matches_the_command(tmp_path):
    spec = ModelSpec.ultraslim()
    assert cli.main(["codegen", "--family", "ultraslim", "-o", str(tmp_path / "h.h")]) == 0
    assert (tmp_path / "h.h").read_text() == codegen.header_text(spec)
