"""Spec strings, key=value options, label maps, class-name files, preprocess dicts and declared options:
any input gives a result or a clean VisionbenchError."""

from __future__ import annotations

import json

from conftest import scratch
from hypothesis import given
from hypothesis import strategies as st
from strategies import json_values, scalars, text

from visionbench.errors import VisionbenchError


def _either(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except VisionbenchError:
        return None


task_texts = st.one_of(
    text,
    st.builds(
        lambda kind, source, path, query: f"{kind}:{source}{path}{query}",
        st.sampled_from(["classification", "detection", "segmentation", "captioning", "x", ""]),
        st.sampled_from(["digits", "shapes", "imagefolder", "coco", "folder", "csv", "", "?"]),
        st.one_of(st.just(""), text.map(lambda t: ":" + t)),
        st.one_of(
            st.just(""),
            st.lists(st.tuples(text, text), max_size=3).map(
                lambda kv: "?" + "&".join(f"{k}={v}" for k, v in kv)
            ),
        ),
    ),
    st.sampled_from(["digits", "fashion-mnist", "shapes-detection", "shapes-segmentation"]).flatmap(
        lambda a: st.tuples(text, text).map(lambda kv: f"{a}?{kv[0]}={kv[1]}")
    ),
)


@given(task_texts, st.dictionaries(text, scalars, max_size=3))
def test_task_specs(spec: str, options: dict) -> None:
    from visionbench.harness.specs import parse_task_spec

    _either(parse_task_spec, spec, options)


@given(st.one_of(text, st.tuples(st.sampled_from(["zoo", "torchvision", "onnx", "callable", "hf", "timm"]), text)
                 .map(lambda p: f"{p[0]}:{p[1]}")))  # fmt: skip
def test_model_specs(spec: str) -> None:
    from visionbench.harness.specs import parse_model_spec

    _either(parse_model_spec, spec)


@given(st.lists(st.one_of(text, st.tuples(text, text).map("=".join)), max_size=5))
def test_key_values(items: list[str]) -> None:
    from visionbench.harness.specs import parse_key_values

    out = _either(parse_key_values, items, option="--model-arg")
    assert out is None or isinstance(out, dict)


@given(st.one_of(text, st.lists(st.tuples(text, text).map("=".join), max_size=4).map(",".join)))
def test_inline_label_maps(value: str) -> None:
    from visionbench.harness.specs import load_label_map

    _either(load_label_map, value)


@given(
    st.one_of(json_values, st.binary(max_size=200)),
    st.sampled_from([".json", ".yaml", ".yml"]),
    st.booleans(),
)
def test_label_map_files(content, suffix: str, as_json: bool) -> None:
    from visionbench.harness.specs import load_label_map

    with scratch() as d:
        path = d / f"map{suffix}"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(json.dumps(content) if as_json else str(content), encoding="utf-8")
        out = _either(load_label_map, str(path))
        assert out is None or all(isinstance(k, str) and isinstance(v, str) for k, v in out.items())


@given(st.dictionaries(text, json_values, max_size=4))
def test_label_map_dicts(value: dict) -> None:
    from visionbench.contracts import ModelSpec
    from visionbench.harness.specs import load_label_map

    out = _either(load_label_map, value)
    if out:
        _either(ModelSpec.create, "zoo:x", label_map=out)


@given(st.binary(max_size=300))
def test_class_name_files(content: bytes) -> None:
    from visionbench.tasks.data.masks import read_class_names

    with scratch() as d:
        (d / "names.txt").write_bytes(content)
        names = _either(read_class_names, d / "names.txt")
        assert names is None or (names and len(set(names)) == len(names))


preprocess_keys = st.sampled_from(
    ["mode", "resize", "size", "crop", "interpolation", "mean", "std", "scale", "x"]
)


@given(st.one_of(json_values, st.dictionaries(preprocess_keys, json_values, max_size=5)),
       st.sampled_from(["classification", "segmentation"]))  # fmt: skip
def test_preprocess_options(value, kind: str) -> None:
    from visionbench.adapters.objects import model_preprocess

    _either(model_preprocess, kind, value)


@given(st.dictionaries(text, scalars, max_size=4), st.sampled_from(["digits", "shapes", "folder", "coco"]))
def test_declared_dataset_options(options: dict, source: str) -> None:
    from visionbench.registry import check_dataset_options

    kind = {"digits": "classification", "coco": "detection", "folder": "segmentation"}.get(
        source, "detection"
    )
    _either(check_dataset_options, kind, source, options)
