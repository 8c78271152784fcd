"""What each task kind reports: metric keys, display names, units, direction and headline.

Declared once, here, for every task kind; the tasks, the terminal report, the MLflow
mapping, the leaderboard and the gate all read it. A kind's first metric is its
headline (the ranking key); ``bootstrapped`` lists the metrics that get a 95%
interval (``<key>_ci_low`` / ``<key>_ci_high``). This module imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One metric key: its display name, unit and whether higher values are better."""

    key: str
    name: str
    higher_is_better: bool = True
    unit: str = "fraction"


@dataclass(frozen=True)
class KindDeclaration:
    """The metrics of one task kind; ``metrics[0]`` is the headline."""

    kind: str
    metrics: tuple[Metric, ...]
    bootstrapped: tuple[str, ...]
    per_class_prefix: str = ""
    per_class_name: str = ""

    @property
    def headline(self) -> str:
        return self.metrics[0].key

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.metrics)

    def metric(self, key: str) -> Metric | None:
        return next((m for m in self.metrics if m.key == key), None)


# Efficiency keys: each name carries its unit and its conditions (the record's ``measurement``
# section holds the batch size, resolution, precision, knobs, protocol and hardware).
# ``latency_ms_p50/p90/p99`` kept their keys from the first records; they are per batch.
EFFICIENCY = (
    Metric("throughput_ips", "Throughput, model only, at the run's batch size (img/s)", True, "images/s"),
    Metric("latency_ms_p50", "Latency p50 per batch at the run's batch size (ms)", False, "ms"),
    Metric("latency_ms_p90", "Latency p90 per batch at the run's batch size (ms)", False, "ms"),
    Metric("latency_ms_p99", "Latency p99 per batch at the run's batch size (ms)", False, "ms"),
    Metric("latency_ms_b1_p50", "Latency p50 per image at batch 1 (ms)", False, "ms"),
    Metric("latency_ms_b1_p90", "Latency p90 per image at batch 1 (ms)", False, "ms"),
    Metric("latency_ms_b1_p99", "Latency p99 per image at batch 1 (ms)", False, "ms"),
    Metric(
        "peak_mem_mb", "Peak memory: CUDA max allocated, or the process's increase on CPU (MiB)", False, "MiB"
    ),
    Metric("params_m", "Parameters (M)", False, "millions"),
    Metric("gflops", "GFLOPs per image (2 FLOPs per multiply-add)", False, "GFLOPs"),
    Metric(
        "end_to_end_ips", "Throughput end to end: decode, preprocess, model, metric (img/s)", True, "images/s"
    ),
    Metric("end_to_end_s", "Evaluation pass wall time (s)", False, "s"),
    Metric("model_time_s", "Model time in the evaluation pass (s)", False, "s"),
    Metric("data_loading_share", "Share of the evaluation pass spent waiting for data", False, "fraction"),
    Metric("throughput_spread", "Spread of throughput over repeats, (max - min) / median", False, "fraction"),
    Metric("compile_s", "torch.compile time, apart from throughput (s)", False, "s"),
)

_DETECTION_KEYS = (
    ("map", "mAP@[.5:.95]"),
    ("map_50", "mAP@.5"),
    ("map_75", "mAP@.75"),
    ("map_small", "mAP small"),
    ("map_medium", "mAP medium"),
    ("map_large", "mAP large"),
    ("mar_1", "mAR@1"),
    ("mar_10", "mAR@10"),
    ("mar_100", "mAR@100"),
    ("mar_small", "mAR small"),
    ("mar_medium", "mAR medium"),
    ("mar_large", "mAR large"),
)

DECLARATIONS: dict[str, KindDeclaration] = {
    "classification": KindDeclaration(
        "classification",
        (
            Metric("top1", "Top-1 accuracy"),
            Metric("top5", "Top-5 accuracy"),
            Metric("precision_macro", "Macro precision"),
            Metric("recall_macro", "Macro recall"),
            Metric("f1_macro", "Macro F1"),
            Metric("auroc_macro", "Macro AUROC"),
            Metric("ece", "Expected calibration error", higher_is_better=False),
            Metric("nll", "Negative log-likelihood", higher_is_better=False, unit="nats"),
            Metric("brier", "Brier score", higher_is_better=False),
        ),
        bootstrapped=("top1", "f1_macro"),
        per_class_prefix="f1",
        per_class_name="F1",
    ),
    "detection": KindDeclaration(
        "detection",
        tuple(Metric(key, name) for key, name in _DETECTION_KEYS),
        bootstrapped=("map", "map_50"),
        per_class_prefix="ap",
        per_class_name="AP",
    ),
    "segmentation": KindDeclaration(
        "segmentation",
        (
            Metric("miou", "mIoU"),
            Metric("pixel_accuracy", "Pixel accuracy"),
            Metric("mean_accuracy", "Mean class accuracy"),
            Metric("fwiou", "Frequency-weighted IoU"),
        ),
        bootstrapped=("miou", "pixel_accuracy"),
        per_class_prefix="iou",
        per_class_name="IoU",
    ),
    "captioning": KindDeclaration(
        "captioning",
        (
            Metric("cider", "CIDEr-D", unit="score"),
            Metric("bleu_1", "BLEU-1"),
            Metric("bleu_2", "BLEU-2"),
            Metric("bleu_3", "BLEU-3"),
            Metric("bleu_4", "BLEU-4"),
            Metric("rouge_l", "ROUGE-L"),
            Metric("meteor", "METEOR"),
            Metric("rouge_1", "ROUGE-1 F (rouge-score)"),
            Metric("rouge_2", "ROUGE-2 F (rouge-score)"),
        ),
        bootstrapped=("cider", "bleu_4", "rouge_l"),
    ),
    "robustness": KindDeclaration(
        "robustness",
        (
            Metric("robust_top1", "Robust top-1 (worst case, largest eps)"),
            Metric("clean_top1", "Clean top-1 accuracy"),
            Metric("mpc", "Mean top-1 under corruption"),
            Metric("rpc", "Relative top-1 under corruption", unit="ratio"),
            Metric("mce", "Mean corruption error", higher_is_better=False, unit="ratio"),
            Metric("relative_mce", "Relative mCE", higher_is_better=False, unit="ratio"),
            Metric("honesty_flags", "Honesty checks fired", higher_is_better=False, unit="count"),
        ),
        bootstrapped=("robust_top1", "clean_top1"),
    ),
}


def declaration(kind: str) -> KindDeclaration:
    try:
        return DECLARATIONS[kind]
    except KeyError:
        from visionbench.errors import SpecError

        raise SpecError(f"no metric declaration for task kind '{kind}'") from None


def headline_key(kind: str) -> str:
    """The ranking metric of a kind ('' for an unknown kind)."""
    found = DECLARATIONS.get(kind)
    return found.headline if found else ""


def display_name(key: str, kind: str | None = None) -> str:
    """A readable name for a metric or efficiency key (interval bounds and per-class keys included)."""
    for suffix, label in (("_ci_low", " (95% CI low)"), ("_ci_high", " (95% CI high)")):
        if key.endswith(suffix):
            return display_name(key[: -len(suffix)], kind) + label
    kinds = [DECLARATIONS[kind]] if kind in DECLARATIONS else list(DECLARATIONS.values())
    for decl in kinds:
        found = decl.metric(key)
        if found:
            return found.name
        if decl.per_class_prefix and key.startswith(decl.per_class_prefix + "/"):
            return f"{decl.per_class_name} {key.split('/', 1)[1]}"
    found = next((m for m in EFFICIENCY if m.key == key), None)
    return found.name if found else key


def higher_is_better(key: str, kind: str | None = None) -> bool:
    for decl in [DECLARATIONS[kind]] if kind in DECLARATIONS else list(DECLARATIONS.values()):
        found = decl.metric(key)
        if found:
            return found.higher_is_better
    found = next((m for m in EFFICIENCY if m.key == key), None)
    return found.higher_is_better if found else True
