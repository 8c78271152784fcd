"""More classification sources: CIFAR-10/100 python batches and Hugging Face datasets saved to disk."""

from __future__ import annotations

from visionbench.contracts import Dataset
from visionbench.errors import ConfigError
from visionbench.registry import register_dataset
from visionbench.schema import Option

CIFAR10 = {"split": Option(choices=("test", "train"))}
CIFAR100 = {**CIFAR10, "label": Option(choices=("fine", "coarse"), help="the 100 fine or 20 coarse classes")}
HF_CLASSIFICATION = {
    "split": Option("str"),
    "image_column": Option("str"),
    "label_column": Option("str"),
    "classes": Option("str", help="file with one class name per line (else the ClassLabel names)"),
}


def _cifar(variant: str, path: str | None, split: str, label: str = "fine") -> Dataset:
    from visionbench.tasks.data.cifar import load_cifar
    from visionbench.tasks.data.files import ArrayClassificationDataset

    if not path:
        raise ConfigError(f"classification:{variant} needs a path: classification:{variant}:DIR")
    images, labels, classes = load_cifar(path, variant, split, label)
    suffix = "" if variant == "cifar10" or label == "fine" else f"-{label}"
    return ArrayClassificationDataset(
        f"{variant}{suffix}-{split}", images, labels, classes, prefix=f"{variant}-{split}-"
    )


@register_dataset(
    "classification", "cifar10", "CIFAR-10 python batches (path: folder; split=test|train)", options=CIFAR10
)
def _cifar10(path: str | None = None, split: str = "test") -> Dataset:
    return _cifar("cifar10", path, split)


@register_dataset(
    "classification",
    "cifar100",
    "CIFAR-100 python batches (path: folder; split=test|train, label=fine|coarse)",
    options=CIFAR100,
)
def _cifar100(path: str | None = None, split: str = "test", label: str = "fine") -> Dataset:
    return _cifar("cifar100", path, split, label)


@register_dataset(
    "classification",
    "opencv-digits",
    "OpenCV's 5,000 handwritten digits, 20x20 (path: digits.png, default from Debian's opencv-doc)",
    options={},
)
def _opencv_digits(path: str | None = None) -> Dataset:
    from visionbench.tasks.data.digits import DIGITS_CLASSES
    from visionbench.tasks.data.files import ArrayClassificationDataset
    from visionbench.tasks.data.opencv_digits import load_opencv_digits

    images, labels = load_opencv_digits(path)
    return ArrayClassificationDataset(
        "opencv-digits", images, labels, DIGITS_CLASSES, prefix="opencv-digits-"
    )


@register_dataset(
    "classification",
    "hf",
    "Hugging Face dataset saved with save_to_disk (path: folder; image and ClassLabel columns)",
    options=HF_CLASSIFICATION,
)
def _hf(
    path: str | None = None,
    split: str | None = None,
    image_column: str = "image",
    label_column: str = "label",
    classes: str | None = None,
) -> Dataset:
    from visionbench.tasks.data.cifar import HFClassificationDataset

    if not path:
        raise ConfigError("classification:hf needs a path: classification:hf:DIR[?split=test]")
    return _HFDataset(
        HFClassificationDataset(
            path, split=split, image_column=image_column, label_column=label_column, classes=classes
        )
    )


class _HFDataset(Dataset):
    kind = "classification"

    def __init__(self, data: object) -> None:
        self.data = data
        self.name, self.classes = data.name, data.classes  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def load(self, index: int) -> object:
        return self.data.load(index)  # type: ignore[attr-defined]

    def fingerprint(self) -> str:
        return self.data.fingerprint()  # type: ignore[attr-defined]
