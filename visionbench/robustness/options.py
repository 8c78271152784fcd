"""The options of a robustness task (``robustness:SOURCE?attacks=pgd&eps=8/255&...``) as a checked plan.

eps is in [0, 1] pixel units; fractions such as ``8/255`` are accepted. Without ``eps`` the
RobustBench presets apply: Linf 8/255 for small images, Linf 4/255 for ImageNet-size images
(a side of 128 pixels or more), L2 0.5. Metric keys write eps as a decimal with 4 significant
digits (``robust_top1/linf/0.03137``), so no ``/`` appears inside a value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from visionbench.errors import ConfigError
from visionbench.schema import Option

GRADIENT_ATTACKS = ("fgsm", "pgd", "autoattack")
ATTACK_NAMES = (*GRADIENT_ATTACKS, "square")
NORMS = ("Linf", "L2")
COMMON_CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
    "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
    "jpeg_compression",
)  # fmt: skip
EXTRA_CORRUPTIONS = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
ALL_CORRUPTIONS = COMMON_CORRUPTIONS + EXTRA_CORRUPTIONS
LARGE_IMAGE_SIDE = 128  # from this side on, the ImageNet-size Linf preset (4/255) applies

# The task options on top of the wrapped classification source's own.
ROBUSTNESS_OPTIONS: dict[str, Option] = {
    "attacks": Option("str", help="comma list of fgsm, pgd, autoattack, square, or none"),
    "norm": Option(choices=NORMS, help="threat model"),
    "eps": Option("str", help="comma list of radii in [0, 1] pixel units, fractions allowed (8/255)"),
    "n": Option("int", minimum=1, maximum=10_000_000, nullable=True, help="first n samples"),
    "seed": Option("int", minimum=0, maximum=2**31 - 1, help="attack seed (default: the run's --seed)"),
    "steps": Option("int", minimum=1, maximum=100_000, help="PGD steps"),
    "restarts": Option("int", minimum=1, maximum=1000, help="PGD random restarts"),
    "corruptions": Option("str", help="none, common (15 ImageNet-C types), all (19) or a comma list"),
    "severities": Option("str", help="1-5, a range a-b or a comma list"),
    "baseline": Option("str", help="model spec of the baseline for mCE (e.g. zoo:digits-linear)"),
    "chunk": Option("int", minimum=1, maximum=100_000, help="samples per attack chunk (resume unit)"),
    "eot": Option("int", minimum=1, maximum=1000, help="EOT samples for randomised models"),
    "checks": Option("bool", help="run the honesty checks (more steps, unbounded attack)"),
    "tolerance": Option("float", minimum=0.0, maximum=1.0, help="honesty tolerance (fraction)"),
    "min_side": Option(
        "int", minimum=32, maximum=4096, help="images smaller than this are upsampled to corrupt"
    ),
}


@dataclass(frozen=True)
class Plan:
    """What a robustness run does: attacks x eps under one norm, and a corruption grid."""

    attacks: tuple[str, ...] = ("pgd",)
    norm: str = "Linf"
    eps: tuple[float, ...] = ()  # empty: the preset for the input size
    seed: int | None = None
    steps: int = 10
    restarts: int = 1
    corruptions: tuple[str, ...] = ()
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)
    baseline: str | None = None
    chunk: int = 64
    eot: int = 20
    checks: bool = True
    tolerance: float = 0.02
    min_side: int = 32
    source_options: dict[str, Any] = field(default_factory=dict)

    def with_preset(self, height: int, width: int) -> Plan:
        """The plan with eps filled from the RobustBench preset for inputs of ``height x width``."""
        if self.eps:
            return self
        eps = 0.5 if self.norm == "L2" else 4 / 255 if max(height, width) >= LARGE_IMAGE_SIDE else 8 / 255
        return Plan(**{**self.__dict__, "eps": (eps,)})

    def describe(self) -> dict[str, Any]:
        """The budget as recorded: every setting that changes the numbers."""
        return {
            "attacks": list(self.attacks),
            "norm": self.norm,
            "eps": list(self.eps),
            "eps_keys": [eps_key(e) for e in self.eps],
            "steps": self.steps,
            "restarts": self.restarts,
            "step_size": "2.5 * eps / steps",
            "seed": self.seed,
            "chunk": self.chunk,
            "eot": self.eot,
            "checks": self.checks,
            "tolerance": self.tolerance,
            "corruptions": list(self.corruptions),
            "severities": list(self.severities),
            "baseline": self.baseline,
            "attack_precision": "fp32",
        }


def eps_key(eps: float) -> str:
    """eps as it appears in metric keys: a decimal with 4 significant digits (8/255 -> ``0.03137``)."""
    return f"{eps:.4g}"


def norm_key(norm: str) -> str:
    return norm.lower()


def parse_fraction(text: str, where: str) -> float:
    """``0.03``, ``8/255`` -> float in [0, 1]; anything else is a ConfigError naming ``where``."""
    raw = text.strip()
    try:
        if "/" in raw:
            top, _, bottom = raw.partition("/")
            value = float(top) / float(bottom)
        else:
            value = float(raw)
    except (ValueError, ZeroDivisionError):
        raise ConfigError(f"{where}: '{text}' is not a number or a fraction like 8/255") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{where}: '{text}' must be a positive radius")
    return value


def parse_severities(text: str, where: str = "option severities") -> tuple[int, ...]:
    out: list[int] = []
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        low, dash, high = part.partition("-")
        try:
            values = range(int(low), int(high) + 1) if dash else [int(part)]
        except ValueError:
            raise ConfigError(f"{where}={text}: '{part}' is not a severity or a range a-b") from None
        out.extend(values)
    if not out or any(s < 1 or s > 5 for s in out):
        raise ConfigError(f"{where}={text}: severities are integers 1..5")
    return tuple(sorted(set(out)))


def parse_corruptions(text: str) -> tuple[str, ...]:
    value = str(text).strip()
    if value in ("", "none"):
        return ()
    if value == "common":
        return COMMON_CORRUPTIONS
    if value == "all":
        return ALL_CORRUPTIONS
    names = tuple(p.strip() for p in value.split(",") if p.strip())
    unknown = [n for n in names if n not in ALL_CORRUPTIONS]
    if unknown:
        raise ConfigError(
            f"option corruptions={text}: unknown corruption '{unknown[0]}' "
            f"(known: common, all, {', '.join(ALL_CORRUPTIONS)})"
        )
    return names


def parse_plan(options: dict[str, Any], where: str = "robustness") -> Plan:
    """The :class:`Plan` of a robustness task's options; the wrapped source's options are kept apart."""
    from visionbench.schema import check_options

    own = {k: v for k, v in options.items() if k in ROBUSTNESS_OPTIONS}
    rest = {k: v for k, v in options.items() if k not in ROBUSTNESS_OPTIONS}
    checked = check_options(own, ROBUSTNESS_OPTIONS, where)
    norm = checked.get("norm", "Linf")
    raw_attacks = str(checked.get("attacks", "pgd")).strip()
    attacks = () if raw_attacks in ("", "none") else tuple(a.strip() for a in raw_attacks.split(","))
    for name in attacks:
        if name not in ATTACK_NAMES:
            raise ConfigError(f"{where}: option attacks={raw_attacks}: unknown attack '{name}' "
                              f"(known: {', '.join(ATTACK_NAMES)}, none)")  # fmt: skip
    if len(set(attacks)) != len(attacks):
        raise ConfigError(f"{where}: option attacks={raw_attacks} names an attack twice")
    if "fgsm" in attacks and norm != "Linf":
        raise ConfigError(f"{where}: FGSM is an Linf attack; drop it from attacks or use norm=Linf")
    eps: tuple[float, ...] = ()
    if checked.get("eps") not in (None, ""):
        eps = tuple(sorted({parse_fraction(p, f"{where}: option eps") for p in str(checked["eps"]).split(",") if p.strip()}))  # fmt: skip
        if norm == "Linf" and any(e > 1 for e in eps):
            raise ConfigError(f"{where}: option eps={checked['eps']}: Linf radii are in [0, 1] pixel units")
        if len({eps_key(e) for e in eps}) != len(eps):
            raise ConfigError(
                f"{where}: option eps={checked['eps']}: two radii share the key of 4 significant digits"
            )
    return Plan(
        attacks=attacks,
        norm=norm,
        eps=eps,
        seed=checked.get("seed"),
        steps=int(checked.get("steps", 10)),
        restarts=int(checked.get("restarts", 1)),
        corruptions=parse_corruptions(checked.get("corruptions", "none")),
        severities=parse_severities(checked.get("severities", "1-5")),
        baseline=checked.get("baseline") or None,
        chunk=int(checked.get("chunk", 64)),
        eot=int(checked.get("eot", 20)),
        checks=bool(checked.get("checks", True)),
        tolerance=float(checked.get("tolerance", 0.02)),
        min_side=int(checked.get("min_side", 32)),
        source_options=rest,
    )


def chunk_seed(seed: int, chunk_index: int) -> int:
    """The seed of one chunk of samples: ``(seed * 1_000_003 + chunk_index) mod 2**31``.

    Every attack on that chunk starts from it, so a resumed run that cuts the data the same way
    repeats each chunk exactly.
    """
    return (int(seed) * 1_000_003 + int(chunk_index)) % (2**31)
