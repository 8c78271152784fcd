"""YAML is read with the safe loader: a python object tag in a label map is refused, never constructed."""

from __future__ import annotations

import pytest

EVIL = "cat: !!python/object/apply:os.system ['touch {marker}']\ndog: dog\n"


def test_label_map_with_python_tag_is_refused(tmp_path):
    from visionbench.errors import ConfigError
    from visionbench.harness.specs import load_label_map

    marker = tmp_path / "PWNED"
    path = tmp_path / "labels.yaml"
    path.write_text(EVIL.format(marker=marker))
    with pytest.raises(ConfigError, match=r"labels\.yaml is not valid.*python/object"):
        load_label_map(str(path))
    assert not marker.exists()


def test_label_map_with_python_tag_exits_2_in_one_line(workdir, cli):
    marker = workdir / "PWNED"
    (workdir / "labels.yml").write_text(EVIL.format(marker=marker))
    code, _, err = cli("run", "--model", "zoo:digits-linear", "--task", "digits", "--label-map", "labels.yml",
                       "--no-track")  # fmt: skip
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "labels.yml is not valid" in lines[0], err
    assert not marker.exists()


def test_plain_yaml_label_map_still_loads(tmp_path):
    from visionbench.harness.specs import load_label_map

    path = tmp_path / "labels.yaml"
    path.write_text("face: [FACE_MALE, FACE_FEMALE]\ncat: 3\n")
    assert load_label_map(str(path)) == {"face": "FACE_MALE|FACE_FEMALE", "cat": "3"}
