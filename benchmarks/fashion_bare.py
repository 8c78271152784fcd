"""The bare baseline of the end-to-end benchmark: Fashion-MNIST top-1 of the zoo CNN with nothing else.

Decode the two IDX test files, normalise the images as the zoo's preprocessing says (x / 255,
then (x - mean) / std), run the same network with the same weights at the same batch size, print
top-1 as JSON. No harness code runs beyond the network's class and its weights file; this is the
floor a harness run is compared with (``test_bench_fashion.py``).

Usage: ``python benchmarks/fashion_bare.py [--batch-size 64] [--root /usr/share/datasets/fashion-mnist]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402

MEAN, STD = 0.2860, 0.3530
WEIGHTS = Path(__file__).resolve().parents[1] / "visionbench" / "zoo" / "weights" / "fashion-cnn.pt"


def read_idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape).copy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    root = Path(args.root)
    images = read_idx(root / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(root / "t10k-labels-idx1-ubyte.gz").astype(np.int64)

    from visionbench.zoo.models import fashion_cnn

    net = fashion_cnn()
    net.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    net.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(images), args.batch_size):
            x = torch.from_numpy(images[start : start + args.batch_size]).unsqueeze(1).float() / 255.0
            logits = net((x - MEAN) / STD)
            correct += int((logits.argmax(1).numpy() == labels[start : start + args.batch_size]).sum())
    top1 = correct / len(images)
    print(json.dumps({"top1": top1, "images": len(images), "seconds": time.perf_counter() - START}))


if __name__ == "__main__":
    main()
