"""Regenerate ``imagenet_classes.tsv``, the ImageNet-1k label space shipped as data.

Run ``python -m visionbench.adapters.make_imagenet_table`` (``--check`` to only verify
the committed file). Two independent sources are joined by index: timm's ordered
wnid list (``timm/data/_info/imagenet_synsets.txt``) and torchvision's short category
names (``torchvision.models._meta._IMAGENET_CATEGORIES``, what torchvision weights
report as ``meta["categories"]``). timm's WordNet lemma file cross-checks the join:
every torchvision name must equal the first lemma of its wnid, except where
torchvision renamed a duplicated head word (listed in ``imagenet.TORCHVISION_RENAMED``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from visionbench.adapters.imagenet import NUM_CLASSES, TABLE_HEADER, TORCHVISION_RENAMED

DEFAULT_OUTPUT = Path(__file__).with_name("imagenet_classes.tsv")


def _timm_info_text(name: str) -> str:
    return files("timm.data").joinpath("_info", name).read_text(encoding="utf-8")


def build_rows() -> list[tuple[int, str, str]]:
    """Join timm's wnids and torchvision's names by index, checking them against the lemmas."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    wnids = _timm_info_text("imagenet_synsets.txt").split()
    lemmas = dict(
        line.split("\t", 1) for line in _timm_info_text("imagenet_synset_to_lemma.txt").splitlines() if line
    )
    names = list(_IMAGENET_CATEGORIES)
    if len(wnids) != NUM_CLASSES or len(names) != NUM_CLASSES:
        raise SystemExit(f"expected {NUM_CLASSES} classes, got {len(wnids)} wnids and {len(names)} names")
    if len(set(wnids)) != NUM_CLASSES or len(set(names)) != NUM_CLASSES:
        raise SystemExit("wnids or names are not unique")
    for index, (wnid, name) in enumerate(zip(wnids, names, strict=True)):
        head = lemmas[wnid].split(",")[0].strip()
        if TORCHVISION_RENAMED.get(index, name) != head:
            raise SystemExit(
                f"index {index}: torchvision name {name!r} does not fit {wnid} ({lemmas[wnid]!r})"
            )
        if "\t" in name or "\n" in name:
            raise SystemExit(f"index {index}: name {name!r} cannot go into a TSV")
    return [(index, wnid, name) for index, (wnid, name) in enumerate(zip(wnids, names, strict=True))]


def render(rows: Sequence[tuple[int, str, str]]) -> str:
    lines = ["\t".join(TABLE_HEADER)] + [f"{index}\t{wnid}\t{name}" for index, wnid, name in rows]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the table")
    parser.add_argument("--check", action="store_true", help="only verify that the file is up to date")
    args = parser.parse_args(argv)
    text = render(build_rows())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"{args.output} is out of date: rerun without --check", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {NUM_CLASSES} classes to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
