"""The zoo's shapes captioners: a small convolutional image encoder and a GRU text decoder.

The encoder turns a normalised ``[N, 3, 64, 64]`` image into a feature vector that starts the
decoder's hidden state and is fed again at every step; the decoder predicts the next word of a
caption and ``generate`` decodes greedily (the most likely word each step, no sampling) until the
end token. The vocabulary travels inside the weights file as a fixed-size byte buffer (UTF-8
JSON list of words), so one ``state_dict`` loaded with ``weights_only=True`` is the whole model.
Index 0 pads, 1 starts and 2 ends a caption, 3 stands for an unknown word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import torch
from torch import nn

VOCAB_CAPACITY = 160
VOCAB_BYTES = 4096
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = range(4)
MAX_WORDS = 40
WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|[,.:;()]")


def _conv(cin: int, cout: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def _block(cin: int, cout: int, deep: bool) -> nn.Sequential:
    """A stride-2 convolution, then (``deep``) a stride-1 one at the new resolution."""
    return nn.Sequential(*_conv(cin, cout, 2), *(_conv(cout, cout, 1) if deep else []))


class _Encoder(nn.Module):
    """Conv features -> the average over a ``grid x grid`` layout and the maximum over the whole image."""

    def __init__(self, blocks: nn.Module, grid: int) -> None:
        super().__init__()
        self.blocks, self.pool = blocks, nn.AdaptiveAvgPool2d(grid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_maps(x)[0]

    def features_and_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The feature vector and every block's output map (training supervises an intermediate one)."""
        maps = []
        for block in self.blocks:
            x = block(x)
            maps.append(x)
        return torch.cat([self.pool(x).flatten(1), x.amax(dim=(2, 3))], dim=1), maps


class ShapesCaptioner(nn.Module):
    """Encoder (stride-2 conv blocks, pooled to ``grid x grid``) + GRU decoder over a word vocabulary."""

    def __init__(
        self,
        channels: Sequence[int] = (16, 24, 40, 64),
        grid: int = 2,
        hidden: int = 112,
        embed: int = 48,
        feed: int = 32,
        deep: bool = True,
    ) -> None:
        super().__init__()
        blocks, cin = [], 3
        for i, cout in enumerate(channels):
            blocks.append(_block(cin, cout, deep and i > 0))
            cin = cout
        self.encoder = _Encoder(nn.Sequential(*blocks), grid)
        features = cin * grid * grid + cin
        self.init = nn.Linear(features, hidden)
        self.feed = nn.Linear(features, feed)
        self.embed = nn.Embedding(VOCAB_CAPACITY, embed, padding_idx=PAD)
        self.gru = nn.GRU(embed + feed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, VOCAB_CAPACITY)
        self.features = features
        self.register_buffer("vocab_bytes", torch.zeros(VOCAB_BYTES, dtype=torch.uint8))
        self._words: list[str] | None = None

    # -- vocabulary -------------------------------------------------------------------------
    def set_vocabulary(self, words: Sequence[str]) -> None:
        words = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        if len(words) > VOCAB_CAPACITY:
            raise ValueError(f"{len(words)} words do not fit the vocabulary capacity {VOCAB_CAPACITY}")
        blob = json.dumps(words, ensure_ascii=False).encode("utf-8")
        if len(blob) > VOCAB_BYTES:
            raise ValueError(f"the vocabulary needs {len(blob)} bytes; the buffer holds {VOCAB_BYTES}")
        buffer = torch.zeros(VOCAB_BYTES, dtype=torch.uint8)
        buffer[: len(blob)] = torch.tensor(list(blob), dtype=torch.uint8)
        self.vocab_bytes.copy_(buffer)
        self._words = None

    @property
    def words(self) -> list[str]:
        if self._words is None:
            raw = bytes(self.vocab_bytes.cpu().tolist()).rstrip(b"\0")
            self._words = json.loads(raw.decode("utf-8")) if raw else list(SPECIALS)
        return self._words

    def _load_from_state_dict(self, *args, **kwargs):  # a new buffer means a new vocabulary
        self._words = None
        return super()._load_from_state_dict(*args, **kwargs)

    # -- network ----------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.encoder(x)
        return torch.tanh(self.init(features)), torch.relu(self.feed(features))

    def forward(
        self, x: torch.Tensor, tokens: torch.Tensor, repeat: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Next-word logits ``[B * repeat, T, V]`` for tokens ``[B * repeat, T]`` (teacher forcing; image ``i``
        serves rows ``i * repeat ...``), the image features ``[B, F]`` and the encoder's block maps
        (training adds heads on them)."""
        features, maps = self.encoder.features_and_maps(x)
        state, feed = torch.tanh(self.init(features)), torch.relu(self.feed(features))
        if repeat > 1:
            state, feed = state.repeat_interleave(repeat, 0), feed.repeat_interleave(repeat, 0)
        steps = torch.cat([self.embed(tokens), feed[:, None, :].expand(-1, tokens.shape[1], -1)], dim=2)
        output, _ = self.gru(steps, state[None])
        return self.out(output), features, maps

    def _valid(self, device: torch.device) -> torch.Tensor:
        valid = torch.ones(VOCAB_CAPACITY, dtype=torch.bool, device=device)
        valid[len(self.words) :] = False
        valid[[PAD, BOS, UNK]] = False
        return valid

    @torch.no_grad()
    def generate(self, x: torch.Tensor, max_words: int = MAX_WORDS, beams: int = 1) -> list[str]:
        """Captions for a batch of normalised images: greedy (``beams=1``) or beam search."""
        if beams > 1:
            return [self._beam(x[i : i + 1], max_words, beams) for i in range(x.shape[0])]
        state, feed = self.encode(x)
        hidden = state[None]
        token = torch.full((x.shape[0],), BOS, dtype=torch.long, device=x.device)
        valid = self._valid(x.device)
        chosen, done = [], torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        for _ in range(max_words):
            step = torch.cat([self.embed(token), feed], dim=1)[:, None, :]
            output, hidden = self.gru(step, hidden)
            logits = self.out(output[:, 0]).masked_fill(~valid, float("-inf"))
            token = logits.argmax(1)
            token = torch.where(done, torch.full_like(token, EOS), token)
            chosen.append(token)
            done |= token == EOS
            if bool(done.all()):
                break
        captions = []
        for row in torch.stack(chosen, 1).cpu().tolist():
            row = row[: row.index(EOS)] if EOS in row else row
            captions.append(detokenize([self.words[t] for t in row]))
        return captions

    def _beam(self, x: torch.Tensor, max_words: int, beams: int) -> str:
        """Beam search for one image: the most probable caption (sum of log-probabilities) among ``beams``."""
        state, feed = self.encode(x)
        valid = self._valid(x.device)
        hidden = state[None]
        scores = torch.zeros(1, device=x.device)
        rows: list[list[int]] = [[]]
        done = torch.zeros(1, dtype=torch.bool, device=x.device)
        for _ in range(max_words):
            last = torch.tensor([r[-1] if r else BOS for r in rows], device=x.device)
            step = torch.cat([self.embed(last), feed.expand(len(rows), -1)], dim=1)[:, None, :]
            output, hidden = self.gru(step, hidden)
            logp = torch.log_softmax(self.out(output[:, 0]).masked_fill(~valid, float("-inf")), dim=1)
            logp[done] = float("-inf")
            logp[done, EOS] = 0.0  # a finished caption only carries on, unchanged
            total = (scores[:, None] + logp).reshape(-1)
            top = torch.topk(total, min(beams, int(torch.isfinite(total).sum()))).indices
            origin, word = top // VOCAB_CAPACITY, top % VOCAB_CAPACITY
            rows = [
                rows[o] + ([] if bool(done[o]) else [int(w)])
                for o, w in zip(origin.tolist(), word.tolist(), strict=True)
            ]
            scores, hidden = total[top], hidden[:, origin]
            done = done[origin] | (word == EOS)
            if bool(done.all()):
                break
        best = rows[int(scores.argmax())]
        best = best[: best.index(EOS)] if EOS in best else best
        return detokenize([self.words[t] for t in best])


def words_of(caption: str) -> list[str]:
    """The decoder's units: lower-case words (hyphens and apostrophes inside) and punctuation marks."""
    return WORD.findall(caption.lower())


def detokenize(words: Sequence[str]) -> str:
    """Words -> a sentence: punctuation attached to the word before it, capital first letter, final period."""
    text = ""
    for word in words:
        if word in {",", ".", ":", ";", ")", "!", "?"} or not text or text.endswith("("):
            text += word
        else:
            text += " " + word
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def shapes_captioner() -> ShapesCaptioner:
    """About 230k parameters: seven conv layers (16-24-40-64 channels), a 2x2 grid plus a global maximum, a 112-unit GRU."""
    return ShapesCaptioner()


def shapes_captioner_tiny() -> ShapesCaptioner:
    """The weaker captioner: two conv blocks (8-16), one global average (no layout), a 48-unit GRU."""
    return ShapesCaptioner(channels=(8, 16), grid=1, hidden=48, embed=24, feed=8, deep=False)
