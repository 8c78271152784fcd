"""Bad-input cases of ``score classification``, ``score detection`` and ``score segmentation``."""

from __future__ import annotations

from bad_input_support import Case

SCORE_CASES = [
    # --- score classification
    Case(
        "score-cls-header-only",
        ("score", "classification", "--gt", "{d}/header_gt.csv", "--pred", "{d}/header_pred.csv"),
        2,
        "header_gt.csv",
    ),  # fmt: skip
    Case(
        "score-cls-empty",
        ("score", "classification", "--gt", "{d}/empty.csv", "--pred", "{d}/pred.csv"),
        2,
        "empty.csv",
    ),
    Case(
        "score-cls-binary",
        ("score", "classification", "--gt", "{d}/binary.csv", "--pred", "{d}/pred.csv"),
        2,
        "binary.csv",
    ),  # fmt: skip
    Case(
        "score-cls-latin1",
        ("score", "classification", "--gt", "{d}/latin1.csv", "--pred", "{d}/pred.csv"),
        2,
        "latin1.csv",
    ),  # fmt: skip
    Case(
        "score-cls-directory",
        ("score", "classification", "--gt", "{d}/a_dir.csv", "--pred", "{d}/pred.csv"),
        2,
        "a_dir.csv",
    ),  # fmt: skip
    Case(
        "score-cls-missing",
        ("score", "classification", "--gt", "{d}/no.csv", "--pred", "{d}/pred.csv"),
        2,
        "no.csv",
    ),  # fmt: skip
    Case(
        "score-cls-short-row",
        ("score", "classification", "--gt", "{d}/short_row.csv", "--pred", "{d}/pred.csv"),
        2,
        "short_row.csv:2",
    ),  # fmt: skip
    Case(
        "score-cls-nan-score",
        ("score", "classification", "--gt", "{d}/gt.csv", "--pred", "{d}/nan_scores.csv"),
        2,
        "'a'",
    ),  # fmt: skip
    Case(
        "score-cls-duplicate-columns",
        ("score", "classification", "--gt", "{d}/one_gt.csv", "--pred", "{d}/dup_columns.csv"),
        2,
        "repeated: cat",
    ),  # fmt: skip
    Case(
        "score-cls-one-class",
        ("score", "classification", "--gt", "{d}/one_gt.csv", "--pred", "{d}/one_scores.csv", "--json"),
        0,
        "",
    ),  # fmt: skip
    Case(
        "score-cls-unicode",
        ("score", "classification", "--gt", "{d}/unicode_gt.csv", "--pred", "{d}/unicode_pred.csv", "--json"),
        0,
        "",
    ),  # fmt: skip
    # --- score detection
    Case(
        "score-det-bad-rle",
        ("score", "detection", "--iou-type", "segm", "--gt", "{d}/gt.json", "--pred", "{d}/bad_rle.json"),
        2,
        "[0]",
    ),  # fmt: skip
    Case(
        "score-det-short-rle",
        ("score", "detection", "--iou-type", "segm", "--gt", "{d}/gt.json", "--pred", "{d}/short_rle.json"),
        2,
        "counts",
    ),  # fmt: skip
    Case(
        "score-det-nan-score",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/nan_score.json"),
        2,
        "'score' must be finite",
    ),  # fmt: skip
    Case(
        "score-det-unknown-image",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/wrong_image.json"),
        2,
        "image_id 7",
    ),  # fmt: skip
    Case(
        "score-det-dict",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/dict_results.json"),
        2,
        "dict_results.json",
    ),  # fmt: skip
    Case(
        "score-det-truncated",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/truncated.json"),
        2,
        "not valid JSON",
    ),  # fmt: skip
    Case(
        "score-det-numbers",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/numbers.json"),
        2,
        "[0]",
    ),  # fmt: skip
    Case(
        "score-det-negative-box",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/neg_box.json"),
        2,
        "width and height",
    ),  # fmt: skip
    Case(
        "score-det-huge-id",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/huge_id.json"),
        2,
        "64 bits",
    ),  # fmt: skip
    Case(
        "score-det-bad-gt",
        ("score", "detection", "--gt", "{d}/bad_gt.json", "--pred", "{d}/numbers.json"),
        2,
        "bad_gt.json",
    ),  # fmt: skip
    Case(
        "score-det-gt-is-folder",
        ("score", "detection", "--gt", "{d}/gtm", "--pred", "{d}/numbers.json"),
        2,
        "--gt",
    ),  # fmt: skip
    # --- score segmentation
    Case(
        "score-seg-num-classes-huge",
        ("score", "segmentation", "--gt", "{d}/gtm", "--pred", "{d}/predm", "--num-classes", "10000000"),
        2,
        "--num-classes 10000000",
    ),  # fmt: skip
    Case(
        "score-seg-num-classes-zero",
        ("score", "segmentation", "--gt", "{d}/gtm", "--pred", "{d}/predm", "--num-classes", "0"),
        2,
        "--num-classes 0",
    ),  # fmt: skip
    Case(
        "score-seg-ignore-is-class",
        (
            "score",
            "segmentation",
            "--gt",
            "{d}/gtm",
            "--pred",
            "{d}/predm",
            "--num-classes",
            "3",
            "--ignore-index",
            "1",
        ),
        2,
        "ignore_index 1",
    ),  # fmt: skip
    Case(
        "score-seg-ignore-range",
        (
            "score",
            "segmentation",
            "--gt",
            "{d}/gtm",
            "--pred",
            "{d}/predm",
            "--num-classes",
            "3",
            "--ignore-index",
            "-7",
        ),
        2,
        "--ignore-index -7",
    ),  # fmt: skip
    Case(
        "score-seg-size-mismatch",
        ("score", "segmentation", "--gt", "{d}/gtm", "--pred", "{d}/small", "--num-classes", "3"),
        2,
        "small/a.png",
    ),  # fmt: skip
    Case(
        "score-seg-broken-png",
        ("score", "segmentation", "--gt", "{d}/gtm", "--pred", "{d}/badpng", "--num-classes", "3"),
        2,
        "badpng/a.png",
    ),  # fmt: skip
    Case(
        "score-seg-out-of-range",
        ("score", "segmentation", "--gt", "{d}/gtm", "--pred", "{d}/predextra", "--num-classes", "3"),
        2,
        "predextra/a.png",
    ),  # fmt: skip
    Case(
        "score-seg-pred-is-file",
        ("score", "segmentation", "--gt", "{d}/gtm", "--pred", "{d}/gt.csv", "--num-classes", "3"),
        2,
        "--pred",
    ),  # fmt: skip
    Case(
        "score-seg-names-empty",
        (
            "score",
            "segmentation",
            "--gt",
            "{d}/gtm",
            "--pred",
            "{d}/predm",
            "--num-classes",
            "3",
            "--class-names",
            "{d}/names.txt",
        ),
        2,
        "names.txt",
    ),  # fmt: skip
    Case(
        "score-seg-names-binary",
        (
            "score",
            "segmentation",
            "--gt",
            "{d}/gtm",
            "--pred",
            "{d}/predm",
            "--num-classes",
            "3",
            "--class-names",
            "{d}/binary.txt",
        ),
        2,
        "binary.txt",
    ),  # fmt: skip
]
