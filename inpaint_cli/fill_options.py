"""How a hole is filled at predict time: one frozen dataclass, with no heavy imports.

`inpaint fill` builds it before the photo decodes and numpy, OpenCV and the model load.
"""

from __future__ import annotations

from dataclasses import dataclass

from inpaint_cli.errors import UsageError


@dataclass(frozen=True)
class FillOptions:
    """How a hole is filled, at predict time; the defaults are what `inpaint fill` does.

    context_factors: window side / hole thickness, one window per factor, their fills averaged.
    Training holes covered 1/8 to 3/8 of the window. Alone, 3 to 6 scored within 0.2 dB of each
    other on 96 and 192 px holes in 12 MP photos; averaging 3 and 6 gained 0.4-0.6 dB. mirror averages
    each window at full resolution with its mirror image (0.05 dB on 128 px photos); scaled-down windows
    are not mirrored.
    flat_detail: below the first mean RGB step between known neighbours (in [0, 1]) a window takes
    the smooth fill, above the second the network's, in between a mix. On flat sky the network's
    correction is mostly noise: the smooth fill is 6 dB ahead below 0.003 (docs/how-fill-works.md).
    """

    context_factors: tuple[float, ...] = (3.0, 6.0)
    flat_detail: tuple[float, float] = (0.003, 0.006)
    mirror: bool = True
    texture: bool = True  # the texture stage (texture.py): detail from the photo's own pixels; off: --smooth

    def __post_init__(self) -> None:
        if not self.context_factors or min(self.context_factors) < 1:
            raise UsageError("context factors must be at least 1 (the window holds the hole)")
        if not 0 <= self.flat_detail[0] < self.flat_detail[1]:
            raise UsageError("flat_detail must be two increasing thresholds of at least 0")
