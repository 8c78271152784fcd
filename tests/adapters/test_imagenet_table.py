"""The shipped ImageNet-1k table against independent sources, and label-space detection."""

from __future__ import annotations

import subprocess
import sys
from importlib.resources import files

import pytest

from visionbench.adapters.imagenet import (
    hf_names_match,
    imagenet_names,
    imagenet_table,
    imagenet_wnids,
    is_imagenet_label_space,
    wnid_to_index,
)
from visionbench.adapters.make_imagenet_table import DEFAULT_OUTPUT, build_rows, render


def _hf_style() -> list[str]:
    """Labels shaped like HF's imagenet-1k id2label: WordNet head word first, synonyms after."""
    labels = [f"{name}, synonym {i}" for i, name in enumerate(imagenet_names())]
    labels[0] = "tench, Tinca tinca"
    labels[134] = "crane"
    labels[517] = "crane"
    labels[639] = "maillot, tank suit"
    return labels


def test_table_has_1000_unique_rows_in_index_order() -> None:
    table = imagenet_table()
    assert [index for index, _, _ in table] == list(range(1000))
    assert len(set(imagenet_wnids())) == 1000
    assert len(set(imagenet_names())) == 1000
    assert all(w.startswith("n") and len(w) == 9 and w[1:].isdigit() for w in imagenet_wnids())


def test_table_is_package_data_with_header() -> None:
    text = files("visionbench.adapters").joinpath("imagenet_classes.tsv").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "index\twnid\tname"
    assert len(lines) == 1001


def test_well_known_classes() -> None:
    table = imagenet_table()
    assert table[0] == (0, "n01440764", "tench")
    assert table[1] == (1, "n01443537", "goldfish")
    assert table[207][2] == "golden retriever"
    assert table[999][2] == "toilet tissue"
    assert wnid_to_index()["n01440764"] == 0
    assert wnid_to_index()["n02099601"] == 207


def test_accessors_are_consistent_and_callers_cannot_corrupt_the_cache() -> None:
    table = imagenet_table()
    assert imagenet_wnids() == tuple(w for _, w, _ in table)
    assert imagenet_names() == tuple(n for _, _, n in table)
    table.clear()
    mapping = wnid_to_index()
    mapping.clear()
    assert len(imagenet_table()) == 1000
    assert len(wnid_to_index()) == 1000


def test_wnids_equal_timm_in_order() -> None:
    timm_data = pytest.importorskip("timm.data")
    if hasattr(timm_data, "ImageNetInfo"):
        timm_wnids = list(timm_data.ImageNetInfo().label_names())
    else:
        text = files("timm.data").joinpath("_info", "imagenet_synsets.txt").read_text(encoding="utf-8")
        timm_wnids = text.split()
    assert list(imagenet_wnids()) == timm_wnids


def test_names_equal_torchvision_categories_in_order() -> None:
    meta = pytest.importorskip("torchvision.models._meta")
    assert list(imagenet_names()) == list(meta._IMAGENET_CATEGORIES)


def test_generator_reproduces_committed_file() -> None:
    pytest.importorskip("timm")
    pytest.importorskip("torchvision")
    assert render(build_rows()) == DEFAULT_OUTPUT.read_text(encoding="utf-8")


def test_generator_check_mode_runs_as_module() -> None:
    pytest.importorskip("timm")
    result = subprocess.run(
        [sys.executable, "-m", "visionbench.adapters.make_imagenet_table", "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_module_does_not_import_torch() -> None:
    code = (
        "import sys; from visionbench.adapters import imagenet as m; m.is_imagenet_label_space(m.imagenet_names()); "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_label_space_accepts_wnids_names_and_hf_labels() -> None:
    assert is_imagenet_label_space(imagenet_wnids())
    assert is_imagenet_label_space(list(imagenet_names()))
    hf = _hf_style()
    assert hf_names_match(hf)
    assert is_imagenet_label_space(hf)
    assert is_imagenet_label_space({str(i): label for i, label in enumerate(hf)})
    assert is_imagenet_label_space({i: label for i, label in enumerate(hf)})


def test_hf_match_tolerates_case_apostrophes_and_spacing() -> None:
    hf = _hf_style()
    jack = imagenet_names().index("jack-o'-lantern")
    hf[jack] = "jack-o-lantern"
    hf[1] = "Goldfish,  Carassius auratus"
    hf[207] = "golden  retriever"
    assert hf_names_match(hf)


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param([], id="empty"),
        pytest.param(list(imagenet_names())[:999], id="999-names"),
        pytest.param(list(imagenet_names()) + ["extra"], id="1001-names"),
        pytest.param(list(reversed(imagenet_names())), id="reversed"),
        pytest.param([str(i) for i in range(1000)], id="integers-as-text"),
        pytest.param([f"LABEL_{i}" for i in range(1000)], id="hf-default-labels"),
        pytest.param("tench", id="a-string"),
        pytest.param({i + 1: n for i, n in enumerate(imagenet_names())}, id="id2label-off-by-one"),
        pytest.param({f"k{i}": n for i, n in enumerate(imagenet_names())}, id="id2label-bad-keys"),
    ],
)
def test_label_space_rejects_other_spaces(labels: object) -> None:
    assert not is_imagenet_label_space(labels)  # type: ignore[arg-type]
    assert not hf_names_match(labels)  # type: ignore[arg-type]


def test_label_space_rejects_one_swapped_pair() -> None:
    names = list(imagenet_names())
    names[1], names[2] = names[2], names[1]
    assert not is_imagenet_label_space(names)
    hf = _hf_style()
    hf[134], hf[135] = hf[135], hf[134]
    assert not is_imagenet_label_space(hf)


def test_hf_crane_is_not_accepted_everywhere() -> None:
    hf = _hf_style()
    hf[300] = "crane"
    assert not hf_names_match(hf)
