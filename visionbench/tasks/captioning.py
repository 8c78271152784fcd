"""Image captioning: datasets, the task, and its per-image state (coco-caption protocol).

Predictions are one ``str`` per image. Each image's state row keeps the candidate and its
references (as given and tokenised the coco-caption way, :mod:`~visionbench.tasks.caption_tokenize`),
BLEU's per-order counts and lengths, and the per-image ROUGE-L and rouge-score values. CIDEr-D
needs the document frequencies of the whole evaluated set, so ``compute`` derives them from the
stored references and scores every image; the bootstrap then resamples images with that idf
frozen (a resample's CIDEr-D is the mean of its images' scores). METEOR 1.5 runs through
coco-caption's Java jar when ``java`` is on the PATH (task option ``meteor=auto``, the default),
else it is omitted with a note in the record (``task.scoring.meteor``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.contracts import Dataset, Task, TaskResult, TaskSpec, check_batch_length
from visionbench.errors import ConfigError, ModelError
from visionbench.registry import register_dataset, register_task
from visionbench.schema import Option

METEOR_MODES = ("auto", "on", "off")
METEOR = Option(choices=METEOR_MODES, help="METEOR via Java: auto (when java is on the PATH), on, off")
_SHAPES = {
    "split": Option(choices=("test", "val", "train")),
    "n": Option("int", minimum=0, maximum=2000, nullable=True, help="first n scenes"),
    "size": Option("int", minimum=32, maximum=2048, help="image side in pixels"),
    "meteor": METEOR,
}
_COCO = {
    "images": Option("str", help="image folder"),
    "allow_outside_root": Option("bool", help="let manifest paths leave the dataset root"),
    "meteor": METEOR,
}
BLEU_KEYS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4")
RESAMPLED = ("cider", *BLEU_KEYS, "rouge_l", "rouge_1", "rouge_2")


@register_dataset(
    "captioning",
    "coco",
    "COCO captions JSON + images (path: FILE.json; images=DIR, default beside it; meteor=auto|on|off)",
    options=_COCO,
)
def _coco(
    path: str | None = None, images: str | None = None, allow_outside_root: Any = False, meteor: str = "auto"
) -> Dataset:
    from visionbench.tasks.data.caption_datasets import CocoCaptionsDataset
    from visionbench.tasks.data.files import outside_root_flag

    if not path:
        raise ConfigError("captioning:coco needs a path: captioning:coco:captions.json[?images=DIR]")
    outside = outside_root_flag(allow_outside_root, "captioning:coco")
    return CocoCaptionsDataset(path, images, allow_outside_root=outside)


@register_dataset(
    "captioning",
    "shapes",
    "built-in shapes scenes, five captions each (split=test|val|train, n=, meteor=auto|on|off)",
    options=_SHAPES,
)
def _shapes(
    path: str | None = None, split: str = "test", n: Any = None, size: Any = 128, meteor: str = "auto"
) -> Dataset:
    from visionbench.tasks.data.caption_datasets import ShapesCaptionsDataset

    return ShapesCaptionsDataset(split, n, size)


@register_dataset(
    "captioning",
    "samples",
    "photographs bundled with scikit-image and matplotlib, five captions each (meteor=auto|on|off)",
    options={"meteor": METEOR},
)
def _samples(path: str | None = None, meteor: str = "auto") -> Dataset:
    from visionbench.tasks.data.caption_datasets import SampleCaptionsDataset

    return SampleCaptionsDataset()


def caption_state(candidate: str, references: Sequence[str]) -> dict[str, Any]:
    """One image's state columns (tokens, BLEU counts, ROUGE-L and rouge-score values) from raw text."""
    from visionbench.tasks.caption_metrics import bleu_stats, rouge_l
    from visionbench.tasks.caption_tokenize import tokenize_joined

    cand = tokenize_joined(candidate)
    refs = [tokenize_joined(r) for r in references]
    guess, correct, testlen, reflen = bleu_stats(cand, refs)
    return {
        "candidate": candidate,
        "references": list(references),
        "candidate_tokens": cand,
        "reference_tokens": refs,
        "bleu_guess": guess,
        "bleu_correct": correct,
        "bleu_testlen": testlen,
        "bleu_reflen": reflen,
        "rouge_l": rouge_l(cand, refs),
    }


@register_task("captioning")
class CaptioningTask(Task):
    """BLEU-1..4, METEOR, ROUGE-L and CIDEr-D as coco-caption computes them, plus rouge-score's ROUGE-1/2.

    Edge-case policy: an empty candidate (or one that is all punctuation) is scored as coco-caption
    scores it (no n-grams: BLEU counts nothing, CIDEr-D 0, ROUGE-L over one empty token); BLEU with
    no match at some order is (nearly) 0 through coco-caption's 1e-15 smoothing, never an error;
    CIDEr-D's idf comes from the evaluated images' references, so a subset (``--limit``) has its
    own idf. METEOR has no per-resample form (its corpus score aggregates statistics inside the
    jar), so it gets no interval and is not compared. Images need at least one reference.
    """

    version = "1"
    metric_version = "1"

    def __init__(self, dataset: Dataset, spec: TaskSpec) -> None:
        super().__init__(dataset, spec)
        self.meteor_mode = str(spec.option_dict.get("meteor", "auto"))
        if self.meteor_mode not in METEOR_MODES:
            raise ConfigError(
                f"task option meteor must be one of {', '.join(METEOR_MODES)}; got {self.meteor_mode!r}"
            )
        self._per_image: dict[str, np.ndarray] | None = None
        self._meteor_note = ""
        self.bootstrap_notes = {
            "meteor": "METEOR's corpus score is aggregated inside the Java scorer, not per resample"
        }

    def state_schema(self) -> Any:
        import pyarrow as pa

        from visionbench.state import base_fields

        return pa.schema(
            [
                *base_fields(),
                pa.field("image_id", pa.int64()),
                pa.field("candidate", pa.string()),
                pa.field("references", pa.list_(pa.string())),
                pa.field("candidate_tokens", pa.string()),
                pa.field("reference_tokens", pa.list_(pa.string())),
                pa.field("bleu_guess", pa.list_(pa.int64())),
                pa.field("bleu_correct", pa.list_(pa.int64())),
                pa.field("bleu_testlen", pa.int64()),
                pa.field("bleu_reflen", pa.int64()),
                pa.field("rouge_l", pa.float64()),
            ]
        )

    def scoring(self) -> dict[str, Any]:
        from visionbench.tasks.caption_meteor import java_available, unavailable_reason

        if self.meteor_mode == "off":
            meteor = "off (task option meteor=off)"
        elif java_available():
            meteor = "METEOR 1.5, pycocoevalcap's meteor-1.5.jar (-l en -norm)"
        else:
            meteor = f"omitted: {unavailable_reason()}"
        return {
            "tokenizer": "PTB-style, Java-free (visionbench.tasks.caption_tokenize), lower-cased, punctuation removed",
            "cider_idf": "document frequencies of the evaluated images' references; frozen when resampling",
            "meteor": self._meteor_note or meteor,
        }

    def encode(
        self, indices: Sequence[int], predictions: Any, targets: Sequence[Any], sample_ids: Sequence[str]
    ) -> dict[str, Any]:
        first = sample_ids[0] if len(sample_ids) else "?"
        if isinstance(predictions, str) or not isinstance(predictions, (list, tuple)):
            raise ModelError(
                f"captioning predictions for the batch starting at sample '{first}' must be a list of str, "
                f"got {type(predictions).__name__}"
            )
        check_batch_length(len(predictions), sample_ids, "captions")
        columns: dict[str, list[Any]] = {name: [] for name in self.state_schema().names}
        for index, sample_id, caption, target in zip(indices, sample_ids, predictions, targets, strict=True):
            if not isinstance(caption, str):
                raise ModelError(
                    f"sample '{sample_id}': the caption is a {type(caption).__name__}, not a str"
                )
            references = list(target["references"])
            if not references:
                raise ModelError(f"sample '{sample_id}' has no reference caption to score against")
            row = caption_state(caption, references)
            row.update(
                index=int(index), sample_id=str(sample_id), image_id=int(target.get("image_id", index))
            )
            for name in columns:
                columns[name].append(row[name])
        return columns

    def _arrays(self) -> dict[str, Any]:
        from visionbench.tasks.caption_metrics import CiderD

        table = self.state.table()
        refs = table.column("reference_tokens").to_pylist()
        cands = table.column("candidate_tokens").to_pylist()
        n = len(cands)
        guess = np.asarray(table.column("bleu_guess").to_pylist(), dtype=np.float64).reshape(n, -1)
        correct = np.asarray(table.column("bleu_correct").to_pylist(), dtype=np.float64).reshape(n, -1)
        lengths = np.stack(
            [table.column("bleu_testlen").to_numpy(), table.column("bleu_reflen").to_numpy()], axis=1
        ).astype(np.float64)
        raw_refs = table.column("references").to_pylist()
        raw_cands = table.column("candidate").to_pylist()
        from visionbench.tasks.caption_metrics import rouge_score_f

        rouge = rouge_score_f(raw_cands, raw_refs) if n else {"rouge_1": np.zeros(0), "rouge_2": np.zeros(0)}
        self._per_image = {
            "cider": CiderD(refs).scores(cands, refs) if n else np.zeros(0),
            "rouge_l": table.column("rouge_l").to_numpy().astype(np.float64),
            "rouge_1": rouge["rouge_1"],
            "rouge_2": rouge["rouge_2"],
            "counts": np.concatenate([guess, correct, lengths], axis=1),
        }
        return {"table": table, "cands": cands, "refs": refs}

    def compute(self) -> TaskResult:
        from visionbench.tasks.caption_metrics import corpus_bleu

        data = self._arrays()
        per = self._per_image
        table, n = data["table"], len(data["cands"])
        metrics: dict[str, float] = {}
        if n:
            metrics.update(_block_metrics(per, np.ones((1, n))))
            metrics = {k: float(v[0]) for k, v in metrics.items()}
        meteor, meteor_images = self._meteor(
            data["cands"], data["refs"], table.column("sample_id").to_pylist()
        )
        if meteor is not None:
            metrics["meteor"] = meteor
        counts = per["counts"]
        k = (counts.shape[1] - 2) // 2 if n else 4
        image_bleu = (
            corpus_bleu(counts[:, :k], counts[:, k : 2 * k], counts[:, -2], counts[:, -1])
            if n
            else np.zeros((0, 4))
        )
        per_sample: dict[str, list[Any]] = {
            "sample_id": table.column("sample_id").to_pylist(),
            "image_id": table.column("image_id").to_pylist(),
            "candidate": table.column("candidate").to_pylist(),
            "references": table.column("references").to_pylist(),
            "cider": per["cider"].tolist(),
            "bleu_4": image_bleu[:, 3].tolist() if n else [],
            "rouge_l": per["rouge_l"].tolist(),
        }
        if meteor_images is not None:
            per_sample["meteor"] = list(meteor_images)
        extra = {"num_references": int(sum(len(r) for r in data["refs"]))}
        if self._meteor_note:
            extra["notes"] = [self._meteor_note]
        return TaskResult(metrics=metrics, per_sample=per_sample, extra=extra)

    def _meteor(
        self, cands: list[str], refs: list[list[str]], ids: list[str]
    ) -> tuple[float | None, list[float] | None]:
        from visionbench.tasks.caption_meteor import Meteor, java_available, unavailable_reason

        self._meteor_note = ""
        if self.meteor_mode == "off" or not cands:
            return None, None
        if not java_available():
            if self.meteor_mode == "on":
                raise ConfigError(f"task option meteor=on: {unavailable_reason()}")
            self._meteor_note = f"meteor omitted: {unavailable_reason()}"
            return None, None
        with Meteor() as scorer:
            score, scores = scorer.score(cands, refs, ids)
        return score, scores

    def _ensure(self) -> dict[str, np.ndarray]:
        if self._per_image is None or len(self._per_image["cider"]) != len(self.state):
            self._arrays()
        return self._per_image  # type: ignore[return-value]

    def bootstrap_metrics(self, resample: np.ndarray) -> dict[str, float] | None:
        found = self.bootstrap_block(np.asarray(resample)[None, :])
        return None if found is None else {k: float(v[0]) for k, v in found.items()}

    def bootstrap_block(
        self, rows: np.ndarray, keys: Sequence[str] | None = None
    ) -> dict[str, np.ndarray] | None:
        """The resampled metrics of each row of sample positions (CIDEr-D with the full set's idf)."""
        per = self._ensure()
        n = len(per["cider"])
        if n == 0:
            return None
        rows = np.asarray(rows)
        weights = np.zeros((rows.shape[0], n))
        np.add.at(weights, (np.arange(rows.shape[0])[:, None], rows), 1.0)
        out = _block_metrics(per, weights)
        wanted = self.headline if keys is None else tuple(keys)
        return {k: v for k, v in out.items() if k in wanted}


def _block_metrics(per: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, np.ndarray]:
    """Corpus metrics of weighted image sets: ``weights[b, i]`` copies of image ``i`` in set ``b``."""
    from visionbench.tasks.caption_metrics import corpus_bleu

    counts = weights @ per["counts"]
    k = (counts.shape[1] - 2) // 2
    bleu = corpus_bleu(counts[:, :k], counts[:, k : 2 * k], counts[:, -2], counts[:, -1])
    total = weights.sum(axis=1)
    out = {key: bleu[:, i] for i, key in enumerate(BLEU_KEYS)}
    for key in ("cider", "rouge_l", "rouge_1", "rouge_2"):
        # an element-wise product summed along each row: a row's value does not depend on the block it is in
        out[key] = (weights * per[key][None, :]).sum(axis=1) / total
    return out
