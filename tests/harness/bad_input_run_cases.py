"""Bad-input cases of ``run`` (options, specs, what a model returns) and of the other commands."""

from __future__ import annotations

from bad_input_support import Case

RUN = ("run", "--no-track", "--model", "zoo:digits-linear", "--task", "digits", "--limit", "4")
GATE = ("--baseline", "{d}/notarun", "--candidate", "{d}/notarun")
PIXELS = 'preprocess={"mode": "L", "size": [8, 8], "mean": [0.5], "std": [0.5]}'
OUT = ("run", "--no-track", "--task", "digits", "--limit", "4", "--bootstrap", "0", "--model-arg", PIXELS,
       "--model", "callable:vbmodels:build", "--model-arg")  # fmt: skip
RUN_CASES = [
    # --- run: execution options
    Case("batch-size-zero", (*RUN, "--batch-size", "0"), 2, "--batch-size 0"),
    Case("batch-size-text", (*RUN, "--batch-size", "ten"), 2, "--batch-size"),
    Case("limit-negative", (*RUN, "--limit", "-5"), 2, "--limit -5"),
    Case("workers-negative", (*RUN, "--workers", "-1"), 2, "--workers -1"),
    Case("device-cpu-abc", (*RUN, "--device", "cpu:abc"), 2, "--device 'cpu:abc'"),
    Case("device-cuda-x", (*RUN, "--device", "cuda:x"), 2, "--device 'cuda:x'"),
    Case("device-tpu", (*RUN, "--device", "tpu"), 2, "--device 'tpu'"),
    Case("bootstrap-negative", (*RUN, "--bootstrap", "-3"), 2, "--bootstrap -3"),
    Case("bootstrap-huge", (*RUN, "--bootstrap", "1000000000"), 2, "--bootstrap 1000000000"),
    Case("precision-fp8", (*RUN, "--precision", "fp8"), 2, "--precision"),
    Case("output-is-a-file", (*RUN, "--output", "{d}/a_file"), 2, "--output"),
    Case("suite-empty", (*RUN, "--suite", ""), 2, "--suite"),
    Case(
        "tracking-uri-scheme",
        ("run", "--model", "zoo:digits-linear", "--task", "digits", "--tracking-uri", "foo://bar"),
        2,
        "unknown scheme 'foo'",
    ),  # fmt: skip
    Case(
        "tracking-uri-sqlite-dir",
        (
            "run",
            "--model",
            "zoo:digits-linear",
            "--task",
            "digits",
            "--tracking-uri",
            "sqlite:///missing/dir/x.db",
        ),
        2,
        "missing/dir",
    ),  # fmt: skip
    Case(
        "tracking-uri-env",
        ("run", "--model", "zoo:digits-linear", "--task", "digits"),
        2,
        "$MLFLOW_TRACKING_URI",
        (("MLFLOW_TRACKING_URI", "bogus://x"),),
    ),  # fmt: skip
    Case("tracking-uri-http-no-host", (*RUN, "--tracking-uri", "http://"), 2, "no host"),
    # --- run: specs and options
    Case("model-spec-no-name", ("run", "--no-track", "--model", "zoo:", "--task", "digits"), 2, "'zoo:'"),
    Case("model-spec-unicode", ("run", "--no-track", "--model", "zoo:模型", "--task", "digits"), 2, "模型"),
    Case(
        "task-option-unknown",
        ("run", "--no-track", "--model", "zoo:digits-linear", "--task", "digits?colour=blue"),
        2,
        "'colour' (accepted: split=",
    ),  # fmt: skip
    Case(
        "task-option-value",
        ("run", "--no-track", "--model", "zoo:digits-linear", "--task", "digits?split=validation"),
        2,
        "split=validation",
    ),  # fmt: skip
    Case(
        "task-option-not-int",
        ("run", "--no-track", "--model", "zoo:shapes-fcn", "--task", "shapes-segmentation?n=many"),
        2,
        "n=many",
    ),  # fmt: skip
    Case(
        "task-option-huge-size",
        ("run", "--no-track", "--model", "zoo:shapes-fcn", "--task", "shapes-segmentation?size=100000"),
        2,
        "size=100000",
    ),  # fmt: skip
    Case(
        "task-option-no-equals",
        ("run", "--no-track", "--model", "zoo:digits-linear", "--task", "digits?split"),
        2,
        "'split' must be key=value",
    ),  # fmt: skip
    Case("task-arg-unknown", (*RUN, "--task-arg", "shuffle=true"), 2, "'shuffle'"),
    Case(
        "seg-num-classes-huge",
        (
            "run",
            "--no-track",
            "--model",
            "zoo:shapes-fcn",
            "--task",
            "segmentation:folder:{d}?num_classes=10000000",
        ),
        2,
        "num_classes=10000000",
    ),  # fmt: skip
    Case(
        "imagefolder-missing",
        (
            "run",
            "--no-track",
            "--model",
            "zoo:digits-linear",
            "--task",
            "classification:imagefolder:{d}/nowhere",
        ),
        2,
        "nowhere",
    ),  # fmt: skip
    Case(
        "imagefolder-is-a-file",
        (
            "run",
            "--no-track",
            "--model",
            "zoo:digits-linear",
            "--task",
            "classification:imagefolder:{d}/a_file",
        ),
        2,
        "a_file",
    ),  # fmt: skip
    Case(
        "imagefolder-empty-image",
        (
            "run",
            "--no-track",
            "--model",
            "zoo:digits-linear",
            "--label-map",
            "0=0,1=1",
            "--task",
            "classification:imagefolder:{d}/twoclass",
        ),
        2,
        "bad.png",
    ),  # fmt: skip
    Case(
        "csv-manifest-binary",
        ("run", "--no-track", "--model", "zoo:digits-linear", "--task", "classification:csv:{d}/binary.csv"),
        2,
        "binary.csv",
    ),  # fmt: skip
    Case(
        "coco-task-bad-json",
        (
            "run",
            "--no-track",
            "--model",
            "zoo:shapes-centernet",
            "--task",
            "detection:coco:{d}/truncated.json",
        ),
        2,
        "truncated.json",
    ),  # fmt: skip
    Case("model-arg-zoo-unknown", (*RUN, "--model-arg", "depth=3"), 2, "unknown option 'depth'"),
    Case("weights-for-zoo", (*RUN, "--weights", "DEFAULT"), 2, "--weights DEFAULT"),
    Case("model-arg-no-equals", (*RUN, "--model-arg", "depth"), 2, "--model-arg 'depth'"),
    Case(
        "model-arg-torchvision-unknown",
        (
            "run",
            "--no-track",
            "--model",
            "torchvision:resnet18",
            "--model-arg",
            "colour=1",
            "--task",
            "digits",
        ),
        2,
        "'colour'",
    ),  # fmt: skip
    Case(
        "model-arg-preprocess-type",
        (
            "run",
            "--no-track",
            "--model",
            "torchvision:resnet18",
            "--model-arg",
            "preprocess=3",
            "--task",
            "digits",
        ),
        2,
        "preprocess",
    ),  # fmt: skip
    Case(
        "model-arg-preprocess-std-zero",
        (
            "run",
            "--no-track",
            "--model",
            "torchvision:resnet18",
            "--model-arg",
            'preprocess={"std": [0, 1, 1]}',
            "--task",
            "digits",
        ),
        2,
        "std",
    ),  # fmt: skip
    Case("label-map-file-list", (*RUN, "--label-map", "{d}/map.json"), 2, "map.json"),
    Case("label-map-broken-yaml", (*RUN, "--label-map", "{d}/broken.yaml"), 2, "broken.yaml"),
    Case("label-map-empty-yaml", (*RUN, "--label-map", "{d}/empty.yaml"), 2, "empty.yaml"),
    Case("label-map-missing-file", (*RUN, "--label-map", "{d}/none.json"), 2, "none.json"),
    Case("label-map-inline-empty", (*RUN, "--label-map", "0="), 2, "'0'"),
    Case(
        "one-class-imagefolder",
        (
            "run",
            "--no-track",
            "--model",
            "zoo:digits-linear",
            "--label-map",
            "cat=3",
            "--task",
            "classification:imagefolder:{d}/oneclass",
            "--bootstrap",
            "0",
        ),
        0,
        "",
    ),  # fmt: skip
    # --- what a model returns
    Case(
        "output-none",
        (*OUT, "kind=none"),
        2,
        "returned None for the batch starting at sample 'digits-test-00000'",
    ),
    Case(
        "output-dict", (*OUT, "kind=dict"), 2, "callable:vbmodels:build' returned a dict with keys ['scores']"
    ),
    Case("output-list", (*OUT, "kind=list"), 2, "callable:vbmodels:build' returned a float"),
    Case("output-rank1", (*OUT, "kind=rank1"), 2, "returned logits of shape [4]"),
    Case("output-rank3", (*OUT, "kind=rank3"), 2, "returned logits of shape [4, 10, 1]"),
    Case(
        "output-short-batch",
        (*OUT, "kind=short"),
        2,
        "3 rows for a batch of 4 images (first sample without its own row: 'digits-test-00003')",
    ),
    Case("output-nan", (*OUT, "kind=nan"), 2, "NaN or infinite logits for sample 'digits-test-00001'"),
    Case(
        "output-raises",
        (*OUT, "kind=raises"),
        2,
        "failed on the batch starting at sample 'digits-test-00000'",
    ),
    Case("output-numpy", (*OUT, "kind=numpy"), 0, ""),
    # --- other commands
    Case("leaderboard-port", ("leaderboard", "--port", "99999"), 2, "--port 99999"),
    Case("leaderboard-host", ("leaderboard", "--host", "bad host!"), 2, "--host"),
    Case("leaderboard-source", ("leaderboard", "--source", "foo://bar"), 2, "--source"),
    Case("sync-output-file", ("sync", "--output", "{d}/a_file"), 2, "--output"),
    Case("sync-tracking-uri", ("sync", "--output", "{d}", "--tracking-uri", "nope://x"), 2, "'nope'"),
    Case("rescore-not-a-run", ("rescore", "{d}/notarun"), 2, "notarun"),
    Case("rescore-file", ("rescore", "{d}/a_file"), 2, "a_file"),
    Case("rescore-bad-record", ("rescore", "{d}/run"), 2, "record.json"),
    Case("list-what", ("list", "everything"), 2, "invalid choice"),
    Case("compare-not-a-run", ("compare", "{d}/notarun", "{d}/notarun"), 2, "notarun is not a run folder"),
    Case("compare-missing-run", ("compare", "{d}/nothere", "abc123"), 2, "no run folder or record at"),
    Case(
        "compare-bootstrap-zero",
        ("compare", "{d}/notarun", "{d}/notarun", "--bootstrap", "0"),
        2,
        "--bootstrap 0",
    ),
    Case("compare-seed-negative", ("compare", "{d}/notarun", "{d}/notarun", "--seed", "-1"), 2, "--seed -1"),
    Case(
        "gate-baseline-not-a-run",
        ("gate", "--baseline", "{d}/notarun", "--candidate", "{d}/notarun"),
        2,
        "notarun",
    ),
    Case(
        "gate-rules-missing",
        ("gate", *GATE, "--rules", "{d}/nope.yaml"),
        2,
        "--rules {d}/nope.yaml: file not found",
    ),
    Case("gate-rules-not-yaml", ("gate", *GATE, "--rules", "{d}/bad_rules.yaml"), 2, "not valid YAML"),
    Case(
        "gate-rules-unknown-key",
        ("gate", *GATE, "--rules", "{d}/rules_key.yaml"),
        2,
        "top1: unknown key 'margins'",
    ),
    Case("gate-rules-negative-margin", ("gate", *GATE, "--rules", "{d}/rules_margin.yaml"), 2, "margin"),
    Case("gate-junit-folder", ("gate", *GATE, "--junit", "{d}"), 2, "--junit"),
    Case("gate-markdown-no-folder", ("gate", *GATE, "--markdown", "{d}/nofolder/gate.md"), 2, "--markdown"),
    Case(
        "plan-gate-not-a-run",
        ("plan-gate", "{d}/notarun", "--drop", "0.01", "--margin", "0.02"),
        2,
        "notarun",
    ),
    Case(
        "plan-gate-power", ("plan-gate", "{d}/notarun", "--drop", "0.03", "--power", "1.5"), 2, "--power 1.5"
    ),
    Case(
        "score-output-file",
        ("score", "classification", "--gt", "{d}/gt.csv", "--pred", "{d}/pred.csv", "--output", "{d}/a_file"),
        2,
        "--output",
    ),
    Case("demo-batch-size", ("demo", "--batch-size", "-1"), 2, "--batch-size -1"),
    Case("unknown-command", ("frobnicate",), 2, "invalid choice"),
]
