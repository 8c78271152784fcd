"""``score captioning`` against coco-caption's own pipeline (pycocoevalcap, Java PTBTokenizer and METEOR).

Random messy caption sets (seeded; replay with ``VB_TEST_SEED``) go through the real CLI and,
independently, through pycocoevalcap: its Java ``PTBTokenizer``, then ``Bleu(4)``, ``Rouge``,
``Cider`` and ``Meteor``. The Java-free tokenizer is compared with the Java one token by token.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import numpy as np
import pytest
from vbtest_captions import caption_sets, seed

from visionbench.harness.cli import main
from visionbench.tasks.caption_tokenize import tokenize

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="coco-caption's reference needs java")


def _java_tokens(captions: dict) -> dict:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    return PTBTokenizer().tokenize(captions)


def _write(tmp_path, gts: dict, res: dict) -> tuple:
    gt = {
        "images": [{"id": i, "file_name": f"{i:04d}.jpg"} for i in gts],
        "annotations": [
            {"id": k, "image_id": i, "caption": c}
            for k, (i, c) in enumerate((i, c) for i in gts for c in gts[i])
        ],
    }
    pred = [{"image_id": i, "caption": c} for i, c in reversed(list(res.items()))]  # order must not matter
    (tmp_path / "gt.json").write_text(json.dumps(gt, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "pred.json").write_text(json.dumps(pred, ensure_ascii=False), encoding="utf-8")
    return tmp_path / "gt.json", tmp_path / "pred.json"


def test_tokenizer_matches_java_ptb_token_by_token():
    s = seed()
    print(f"VB_TEST_SEED={s}")
    gts, res = caption_sets(np.random.default_rng(s), 250)
    captions = [c for refs in gts.values() for c in refs] + list(res.values())
    java = _java_tokens({k: [{"caption": c}] for k, c in enumerate(captions)})
    for k, caption in enumerate(captions):
        assert tokenize(caption) == java[k][0].split(), f"caption {caption!r} (seed {s})"


def test_score_cli_equals_pycocoevalcap_pipeline(tmp_path, capsys):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge

    s = seed()
    print(f"VB_TEST_SEED={s}")
    gts, res = caption_sets(np.random.default_rng(s), 120)
    gt_path, pred_path = _write(tmp_path, gts, res)
    capsys.readouterr()
    code = main(["score", "captioning", "--gt", str(gt_path), "--pred", str(pred_path), "--json",
                 "--output", str(tmp_path / "runs")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    mine = json.loads(out)["metrics"]  # stdout holds the JSON document and nothing else

    references = _java_tokens({i: [{"caption": c} for c in refs] for i, refs in gts.items()})
    candidates = _java_tokens({i: [{"caption": c}] for i, c in res.items()})
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(references, candidates)
    rouge, _ = Rouge().compute_score(references, candidates)
    cider, _ = Cider().compute_score(references, candidates)
    meteor, _ = Meteor().compute_score(references, candidates)
    expected = {f"bleu_{k + 1}": v for k, v in enumerate(bleu)} | {"rouge_l": rouge, "cider": cider}
    for key, value in expected.items():
        assert mine[key] == pytest.approx(value, abs=1e-6, rel=0), f"{key} (seed {s})"
    assert mine["meteor"] == pytest.approx(meteor, abs=1e-3, rel=0), f"meteor (seed {s})"
    assert 0 < mine["bleu_4"] < mine["bleu_1"] < 1 and mine["cider"] > 0.1  # the sets are not degenerate


def test_rouge_score_keys_equal_rouge_score_library(tmp_path):
    """rouge_1/rouge_2 are rouge-score's F-measures (best reference per image), averaged over images."""
    from rouge_score import rouge_scorer

    from visionbench.harness.scoring_captioning import captioning_task

    s = seed()
    print(f"VB_TEST_SEED={s}")
    gts, res = caption_sets(np.random.default_rng(s + 1), 40)
    gt_path, pred_path = _write(tmp_path, gts, res)
    task, _ = captioning_task(gt_path, pred_path, meteor="off")
    metrics = task.compute().metrics
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"])
    for key, name in (("rouge_1", "rouge1"), ("rouge_2", "rouge2")):
        per_image = [max(scorer.score(r, res[i])[name].fmeasure for r in gts[i]) for i in sorted(gts)]
        assert metrics[key] == pytest.approx(float(np.mean(per_image)), abs=1e-12)
    assert "meteor" not in metrics
