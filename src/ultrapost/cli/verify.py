"""``ultrapost verify``: the compiled C core against the numpy golden model on generated cases, bit for bit."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import numpy as np

from ultrapost.cli.progress import bar

DESCRIPTION = """\
Check that the compiled C core and the numpy golden model (ultrapost.golden) give the same integers on generated
post-processing cases, for every model family, input kind and NMS kind:

  ultraface   f32, s8 (int8 with scale and zero point), i32 (Q30 probabilities / Q20 logits and boxes)
              every Ultraface input size and some odd ones, raw or decoded boxes, probabilities or logits, both prior
              conventions, clipping, candidate limits and output caps, "+1 pixel" areas, ">" and ">=", and hard
              modes (ties, all or none above the threshold, extreme deltas, degenerate boxes, thresholds exactly on
              an int8 level)
  ultraslim   f32, s8: NXP's single [172, 6] tensor
  blazeface   f32, s8, i32: MediaPipe short range, full range and back camera, 6 keypoints, clipped logits
  retinaface  f32, s8, i32: both prior configs (Face-Detector-1MB, zineos Blazeface), 5 landmarks in their own
              tensor, probabilities or logits
  multiclass  f32, s8, i32: background + 2 or 3 classes, a threshold per class, labels
  retinaface_packed  f32, s8, i32: Pytorch_Retinaface mobilenet0.25's one packed [N, 16] output (loc, class logits,
              landmarks; views, no copy), its priors (min sizes [[16, 32], [64, 128], [256, 512]], steps 8, 16, 32)
              at 640, 320 and 160, int8 with one scale and zero point for the 16 columns (rebuild: a retinaface
              case of the mnet config, packed as [loc | conf | landms])
  yunet       f32, s8: OpenCV's YuNet (up_yunet_run): any frame size (padded to 32), both presets (opencv, single-test),
              top_k, random, tied, on-the-threshold, lone-candidate, clustered and empty outputs

Case i of a family and kind uses NMS kind i mod 5 (hard, blend, weighted, soft-linear, soft-gaussian), so every
family and kind is checked with every NMS kind (YuNet has its own, OpenCV's NMS on integer rectangles). Cases
come from ultrapost.families.cases (YuNet: ultrapost.families.yunet_cases): case i is a pure function of (--seed,
family, kind, i), so any mismatch reported here can be rebuilt and debugged. "Same" means np.array_equal
and equal dtypes on every output array (boxes Q20, scores Q30, anchor indices, keypoints Q20, labels), never a
tolerance.

Exit status: 0 when every case matches, 1 on any mismatch (each is listed with how to rebuild it).
"""

EPILOG = """\
examples:
  ultrapost verify                 # 100 cases per family and input kind, 20 per NMS kind
  ultrapost verify --cases 500 --seed 7
  ultrapost verify --family retinaface --family blazeface
  ultrapost verify --json > verify.json
"""

# family -> input kinds it is checked with
GROUPS = {
    "ultraface": ("f32", "s8", "i32"),
    "ultraslim": ("f32", "s8"),
    "blazeface": ("f32", "s8", "i32"),
    "retinaface": ("f32", "s8", "i32"),
    "multiclass": ("f32", "s8", "i32"),
    "retinaface_packed": ("f32", "s8", "i32"),
    "yunet": ("f32", "s8"),
}
_LIMITS = (200, 1, 7, None)
_MAX_DETECTIONS = (None, 1, 5)
_MAKERS = {
    "ultraface": "make_case",
    "ultraslim": "ultraslim_case",
    "blazeface": "blazeface_case",
    "retinaface": "retinaface_case",
    "multiclass": "multiclass_case",
    "retinaface_packed": "retinaface_case",
}
_PACKED_SIZES = ((640, 640), (320, 320), (160, 160), (200, 120))
_YUNET_FRAMES = ((320, 240), (96, 64), (100, 70), (64, 32), (33, 97), (160, 160))


@dataclass
class Case:
    family: str
    kind: str
    index: int
    params: dict
    pp: object
    args: tuple
    kwargs: dict

    @property
    def nms(self) -> str:
        return self.params.get("nms", "hard")

    def rebuild(self) -> str:
        p = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if k != "yunet")
        if self.family == "yunet":  # (outputs, quantization), then the post-processor
            y = ", ".join(f"{k}={v!r}" for k, v in self.params["yunet"].items())
            return f"(ultrapost.families.yunet_cases.make_outputs({p}), ultrapost.YuNet({y}))"
        return f"ultrapost.families.cases.{_MAKERS[self.family]}({p})"


def make(family: str, kind: str, index: int, seed: int = 0) -> Case:
    """Case ``index`` of a family and input kind, drawn from ``ultrapost.families.cases``; NMS kind ``index mod 5``."""
    from ultrapost.families import cases

    families = list(GROUPS)
    if family not in GROUPS or kind not in GROUPS[family]:
        raise ValueError(f"unknown family/kind {family}/{kind}; known: {GROUPS}")
    rng = np.random.default_rng([seed, families.index(family), cases.KINDS.index(kind), index])
    case_seed = int(rng.integers(0, 2**32))
    nms = cases.NMS_KINDS[index % len(cases.NMS_KINDS)]
    # The golden model's merging and soft-NMS loops are plain Python: their cases keep at most 200 candidates.
    limit = _LIMITS[rng.integers(len(_LIMITS))]
    if nms != "hard" and limit is None:
        limit = 200
    if family == "ultraface":
        logits = bool(rng.integers(2))
        decoded = bool(rng.integers(2)) and not logits
        size = tuple(int(v) for v in cases.SIZES[rng.integers(len(cases.SIZES))])
        params = dict(
            seed=case_seed,
            size=size,
            kind=kind,
            mode=str(rng.choice(cases.MODES)),
            decoded=decoded,
            logits=logits,
            convention=str(rng.choice(["trained", "stride"])),
            clip=bool(rng.integers(2)),
            candidate_limit=limit,
            max_detections=_MAX_DETECTIONS[rng.integers(len(_MAX_DETECTIONS))],
            nms=nms,
            pixel_size=size if rng.integers(2) else None,
            score_test=str(rng.choice([">", ">="])),
        )
        pp, s, b, q = cases.make_case(**params)
        return Case(family, kind, index, params, pp, (s, b), dict(decoded=decoded, quantization=q))
    if family == "ultraslim":
        params = dict(
            seed=case_seed,
            kind=kind,
            mode=str(rng.choice(["random", "ties", "none_pass"])),
            score_threshold=float(rng.choice([0.3, 0.5, 0.7])),
            nms=nms,
        )
        pp, tensor, q = cases.ultraslim_case(**params)
        return Case(family, kind, index, params, pp, (tensor, None), dict(decoded=True, quantization=q))
    if family == "blazeface":
        params = dict(seed=case_seed, kind=kind, model=str(rng.choice(["short", "full", "back"])), nms=nms)
        pp, s, r, q = cases.blazeface_case(**params)
        return Case(family, kind, index, params, pp, (s, r), dict(quantization=q))
    if family == "yunet":
        return _yunet_case(kind, index, rng, case_seed)
    if family == "retinaface_packed":
        return _packed_case(kind, index, rng, case_seed, nms, limit)
    if family == "retinaface":
        params = dict(
            seed=case_seed,
            kind=kind,
            mode=str(rng.choice(["random", "ties", "all_pass", "none_pass", "extreme", "degenerate"])),
            config=str(rng.choice(["slim", "blazeface"])),
            nms=nms,
            logits=bool(rng.integers(2)),
            candidate_limit=limit,
            max_detections=[1000, 1, 5][rng.integers(3)],
            pixel_size="input" if rng.integers(2) else None,
            score_test=str(rng.choice([">", ">="])),
        )
        pp, conf, loc, landms, q = cases.retinaface_case(**params)
        return Case(family, kind, index, params, pp, (conf, loc, landms), dict(quantization=q))
    params = dict(
        seed=case_seed,
        kind=kind,
        size=tuple(int(v) for v in [(160, 120), (128, 96), (64, 48)][rng.integers(3)]),
        nms=nms,
        decoded=bool(rng.integers(2)),
        num_classes=int(rng.choice([3, 4])),
        max_detections=_MAX_DETECTIONS[rng.integers(len(_MAX_DETECTIONS))],
    )
    pp, s, b, q = cases.multiclass_case(**params)
    return Case(family, kind, index, params, pp, (s, b), dict(decoded=params["decoded"], quantization=q))


def _yunet_case(kind: str, index: int, rng, case_seed: int) -> Case:
    from ultrapost.families.yunet import YuNet
    from ultrapost.families.yunet_cases import MODES, make_outputs

    frame = tuple(int(v) for v in _YUNET_FRAMES[rng.integers(len(_YUNET_FRAMES))])
    t = float(rng.choice([0.3, 0.5, 0.6, 0.9]))
    params = dict(seed=case_seed, frame=frame, mode=str(rng.choice(MODES)), t=t, int8=kind == "s8")
    yn = dict(
        input_size=frame,
        score_threshold=t,
        iou_threshold=float(rng.choice([0.3, 0.45, 0.7])),
        top_k=int(rng.choice([5000, 40, 1, 0])),
        preset=str(rng.choice(["opencv", "single-test"])),
        max_detections=[None, 1, 5][rng.integers(3)],
    )
    outputs, q = make_outputs(**params)
    return Case("yunet", kind, index, {**params, "yunet": yn}, YuNet(**yn), (outputs,), dict(quantization=q))


def _packed_case(kind: str, index: int, rng, case_seed: int, nms: str, limit) -> Case:
    from ultrapost.families import cases

    params = dict(
        seed=case_seed,
        kind="f32" if kind == "s8" else kind,
        mode=str(rng.choice(["random", "ties", "all_pass", "none_pass", "extreme", "degenerate"])),
        config="mnet",
        size=tuple(int(v) for v in _PACKED_SIZES[rng.integers(len(_PACKED_SIZES))]),
        nms=nms,
        logits=True,
        candidate_limit=limit,
        max_detections=[750, 1, 5][rng.integers(3)],
        score_test=str(rng.choice([">", ">="])),
    )
    pp, conf, loc, landms, _ = cases.retinaface_case(**params)
    packed = np.concatenate([loc, conf, landms], axis=1)[None]
    q = None
    if kind == "s8":  # one scale and zero point for the 16 columns, as the int8-output model
        q = (float(rng.choice([0.05, 0.10124, 0.2])), int(rng.integers(-5, 6)))
        packed = np.clip(np.round(packed / q[0]) + q[1], -128, 127).astype(np.int8)
    return Case("retinaface_packed", kind, index, params, pp, (packed,), dict(quantization=q))


def differences(c, g) -> list[str]:
    """Names of the output arrays that differ between two results (values, dtype or presence)."""
    out = []
    for name in sorted(set(c.fixed) | set(g.fixed)):
        a, b = c.fixed.get(name), g.fixed.get(name)
        if a is None or b is None:
            out.append(f"{name} (only in {'C' if b is None else 'golden'})")
        elif a.dtype != b.dtype:
            out.append(f"{name} (dtype {a.dtype} vs {b.dtype})")
        elif not np.array_equal(a, b):
            out.append(f"{name} ({len(a)} vs {len(b)} rows)" if a.shape != b.shape else name)
    return out


def check(case: Case) -> str | None:
    """None when C and golden agree on the case, else what differs (an error in one only is a difference too)."""
    results = {}
    for backend in ("c", "golden"):
        try:
            results[backend] = case.pp.postprocess(*case.args, **case.kwargs, backend=backend)
        except (ValueError, TypeError, OverflowError) as exc:
            results[backend] = exc
    c, g = results["c"], results["golden"]
    if isinstance(c, Exception) or isinstance(g, Exception):
        if type(c) is type(g) and str(c) == str(g):
            return None  # both reject the case with the same error
        return f"C: {c!r:.120}; golden: {g!r:.120}"
    diff = differences(c, g)
    return ", ".join(diff) + " differ" if diff else None


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "verify",
        help="check the C core against the numpy golden model, bit for bit",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--cases", type=int, default=100, metavar="N", help="cases per family and input kind (100)")
    p.add_argument("--seed", type=int, default=0, help="which set of cases (0); any non-negative integer")
    p.add_argument(
        "--family", action="append", metavar="NAME", help=f"only this family (repeatable): {', '.join(GROUPS)}"
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ultrapost.families.cases import NMS_KINDS

    if args.cases < 1:
        raise ValueError(f"--cases must be at least 1, got {args.cases}")
    if args.seed < 0:
        raise ValueError(f"--seed must be non-negative, got {args.seed}")
    families = getattr(args, "family", None) or list(GROUPS)
    unknown = [f for f in families if f not in GROUPS]
    if unknown:
        raise ValueError(f"unknown --family {', '.join(unknown)}; families: {', '.join(GROUPS)}")
    groups = [(f, k) for f, kinds in GROUPS.items() if f in families for k in kinds]
    progress = bar(len(groups) * args.cases, "verify", unit="case")
    summary, mismatches = [], []
    start = time.perf_counter()
    try:
        for family, kind in groups:
            bad = 0
            by_nms = {n: {"cases": 0, "mismatches": 0} for n in NMS_KINDS}
            for i in range(args.cases):
                case = make(family, kind, i, args.seed)
                what = check(case)
                by_nms[case.nms]["cases"] += 1
                if what is not None:
                    bad += 1
                    by_nms[case.nms]["mismatches"] += 1
                    mismatches.append(
                        {
                            "family": family,
                            "kind": kind,
                            "nms": case.nms,
                            "index": i,
                            "differs": what,
                            "rebuild": case.rebuild(),
                        }
                    )
                progress.set_postfix_str(f"{family} {kind}, mismatches {len(mismatches)}", refresh=False)
                progress.update(1)
            summary.append(
                {
                    "family": family,
                    "kind": kind,
                    "cases": args.cases,
                    "mismatches": bad,
                    "nms": {n: v for n, v in by_nms.items() if v["cases"]},
                }
            )
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    total = sum(g["cases"] for g in summary)
    if args.json:
        print(
            json.dumps(
                {
                    "seed": args.seed,
                    "cases": total,
                    "seconds": round(seconds, 2),
                    "groups": summary,
                    "mismatches": mismatches,
                    "ok": not mismatches,
                }
            )
        )
    else:
        # one row per family and input kind; per NMS kind, mismatches / cases
        header = " ".join(f"{n:>13}" for n in NMS_KINDS)
        print(f"{'family':<10} {'kind':<5} {'cases':>6} {'mismatches':>11}   {header}")
        for g in summary:
            counts = [g["nms"].get(n, {"mismatches": 0, "cases": 0}) for n in NMS_KINDS]
            cells = " ".join(f"{'{mismatches}/{cases}'.format(**c):>13}" for c in counts)
            print(f"{g['family']:<10} {g['kind']:<5} {g['cases']:>6} {g['mismatches']:>11}   {cells}")
        for m in mismatches[:20]:
            print(
                f"MISMATCH {m['family']} {m['kind']} {m['nms']} case {m['index']}: {m['differs']}; "
                f"rebuild: {m['rebuild']}"
            )
        if len(mismatches) > 20:
            print(f"... and {len(mismatches) - 20} more (--json lists them all)")
        verdict = "C == golden on every case" if not mismatches else f"{len(mismatches)} MISMATCHES"
        print(f"{total} cases in {seconds:.1f} s (seed {args.seed}): {verdict}")
    return 1 if mismatches else 0
