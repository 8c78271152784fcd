"""IDX files (the MNIST family's format) and the Fashion-MNIST loader built on them.

IDX layout: two zero bytes, a type byte, a dimension-count byte, then one big-endian
uint32 per dimension, then the data in big-endian C order. Files may be gzipped; the
gzip magic bytes decide, not the file name.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from visionbench.errors import ConfigError, DataError

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DEFAULT_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_INSTALL_HINT = (
    f"on Debian/Ubuntu `apt-get install dataset-fashion-mnist` provides it in {DEFAULT_FASHION_MNIST_DIR}"
)

# IDX type byte -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"IDX file not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"expected an IDX file, found a directory: {path}") from None
    except OSError as exc:
        raise DataError(f"cannot read IDX file {path}: {exc.strerror or exc}") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"corrupt or truncated gzip IDX file {path}: {exc}") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a native-endian array of the shape its header declares.

    A bad magic number, unknown type, short or over-long payload raises :class:`DataError` naming the file.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"truncated IDX file {path}: {len(data)} bytes, no complete header")
    zero0, zero1, type_code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise DataError(f"not an IDX file {path}: magic number starts {data[:2].hex()}, expected 0000")
    if type_code not in _IDX_DTYPES:
        raise DataError(f"corrupt IDX file {path}: unknown data type code 0x{type_code:02x}")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(f"truncated IDX file {path}: header declares {ndim} dimensions, file too short")
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_len
    if actual < expected:
        raise DataError(
            f"truncated IDX file {path}: header declares shape {tuple(dims)} ({expected} bytes), "
            f"found {actual} bytes of data"
        )
    if actual > expected:
        raise DataError(
            f"corrupt IDX file {path}: {actual - expected} bytes after the data of shape {tuple(dims)}"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header_len)
    return array.reshape(dims).astype(dtype.newbyteorder("="), copy=True)


def _find_idx(root: Path, prefix: str, kind: str, ndim: int) -> Path:
    """Find ``<prefix>-<kind>-idx<ndim>-ubyte`` (or ``.idx``, or gzipped) in root or a torchvision-style subdir."""
    names = [f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"]
    dirs = [root, root / "raw", root / "FashionMNIST" / "raw"]
    for directory in dirs:
        for name in names:
            for candidate in (directory / name, directory / f"{name}.gz"):
                if candidate.is_file():
                    return candidate
    raise DataError(f"Fashion-MNIST file {names[0]}(.gz) not found in {root}; {FASHION_MNIST_INSTALL_HINT}")


def load_fashion_mnist(root: str | Path | None, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images uint8 [N, 28, 28], labels int64 [N])`` for Fashion-MNIST ``"train"`` or ``"test"``.

    ``root`` is a directory holding the four official IDX files (gzipped or not); ``None`` means
    :data:`DEFAULT_FASHION_MNIST_DIR`.
    """
    if split not in ("train", "test"):
        raise ConfigError(f"unknown Fashion-MNIST split {split!r}; expected 'train' or 'test'")
    root = Path(root if root is not None else DEFAULT_FASHION_MNIST_DIR)
    if not root.is_dir():
        raise DataError(f"Fashion-MNIST directory not found: {root}; {FASHION_MNIST_INSTALL_HINT}")
    prefix = "train" if split == "train" else "t10k"
    images_path = _find_idx(root, prefix, "images", 3)
    labels_path = _find_idx(root, prefix, "labels", 1)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataError(
            f"expected uint8 images [N, H, W] in {images_path}, got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1:
        raise DataError(f"expected labels [N] in {labels_path}, got shape {labels.shape}")
    if len(labels) != len(images):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(FASHION_MNIST_CLASSES)):
        raise DataError(f"labels in {labels_path} fall outside 0..{len(FASHION_MNIST_CLASSES) - 1}")
    return images, labels
