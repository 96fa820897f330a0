"""How a hole is filled at predict time: one frozen dataclass, with no heavy imports.

`inpaint fill` builds it before the photo decodes and numpy, OpenCV and the model load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from inpaint_cli.errors import UsageError


@dataclass(frozen=True)
class TextureOptions:
    """The texture stage's settings (texture.py describes its steps); the defaults are what `inpaint fill` does.

    Benchmarks vary them with dataclasses.replace, e.g.
    `replace(options, texture_options=replace(options.texture_options, smooth=21))`.
    """

    reach: float = 1.0  # the crop the stage sees reaches this many hole thicknesses beyond the hole (3x a square)
    min_reach: int = 64  # px: at least this much context for thin strokes
    tile: int = 384  # px: a long hole is textured in pieces of twice its thickness, at least this (a square: one)
    sigma: float = 2.5  # Gaussian sigma (px) splitting low-pass from high-pass
    flat: tuple[float, float] = (2.0, 4.0)  # mean |high-pass luminance| (0..255) in the ring: flat to textured
    ring: int = 16  # width (px) of the ring of known pixels for the flat test
    agreement_sigma: float = 24.0  # px: the colours are compared as Gaussian means over the textured pixels
    colour_agreement: float = 30.0  # a source's texture fades by exp(-(coarse colour distance / this)^2 / 2); 0: off
    coarse: int = 32  # the candidate search runs at a scale where the hole is about this thick (px)
    block: int = 12  # block side in coarse pixels
    max_blocks: int = 12  # blocks grow beyond `block` where a hole would need more
    piece_blocks: int = 1  # likewise for a piece of a long hole (a stroke, textured in pieces of `tile`)
    piece_coarse: int = 16  # and a piece's search runs where it is about this thick (px)
    margin: int = 6  # context around each block in coarse pixels
    search: float = 3.0  # search reach around a block, in hole thicknesses
    low_weight: float = 1.0  # weight of low-pass agreement with the guide in the hole (known full colour: 1)
    smooth: int = 15  # box (px) over which per-pixel label costs are summed
    border_sigma: float = 4.0  # sigma (px) of the local means compared across the hole's border
    border_band: int = 3  # hole pixels within this distance (px) of the border carry the mismatch
    mid_sigma: float = 12.0  # Gaussian sigma (px) splitting the sources' low-pass into a mid and a coarse band
    feather: float = 4.0  # sigma (px) over which the sources' mid and coarse bands are blended across label seams
    mid_share: float = 1.0  # share of the sources' mid band where the surroundings are textured
    coarse_share: float = 0.5  # share of the sources' coarse band where the surroundings are textured
    # Line mode (docs/line-mode.md): where the known ring around a hole holds one straight edge (a beam, a cable, the
    # horizon), sources that continue it are preferred and sought along it. On by default since 2026-12-02 (no kind
    # of painted mask lost over 0.01 dB, objects +0.16-0.19); off, the settings below do nothing.
    line_mode: bool = True  # continue a straight edge that crosses the hole
    line_coherence: tuple[float, float] = (0.6, 0.85)  # the ring's structure-tensor coherence: no line to a line
    line_gradient: tuple[float, float] = (4.0, 8.0)  # its edge strength sqrt(l1 - l2) (luminance 0..255, Sobel)
    line_skip: int = 5  # px: the line test skips known pixels this near the hole (their blur sees the guide)
    line_align: float = 12.0  # px: a source's bands count in full as far as its offset runs along the edge
    along_weight: float = 4.0  # weight (x line strength) of the label cost averaged along the edge
    along_length: float = 1.5  # length of that average, in hole thicknesses
    along_width: int = 9  # its width (px)
    along_low_weight: float = 0.25  # weight of the guide's low-pass in the hole within that average
    along_step: int = 4  # that average is made at 1/along_step size
    along_miss: float = 1.0  # along the edge an invalid source costs this x the ring's colour variance
    median_stride: int = 8  # a source's coarse band moves by its median step to the guide's, over every n-th pixel
    edge_candidates: int = 1  # extra source offsets per side along the edge, matched on the known ring; 0: none
    edge_range: tuple[float, float] = (0.5, 2.2)  # their distance along the edge, in hole thicknesses
    edge_across: int = 3  # and across it, within +- this many coarse steps (the direction's error)
    edge_points: int = 600  # known ring points that match uses (subsampled)
    edge_guide: float = 1.0  # an edge candidate's cost against the guide in the hole counts (1 - line x this)
    edge_trust: float = 1.0  # an edge candidate's along-edge cost: this x its ring match per colour channel
    edge_band: float = 0.25  # edge candidates fill only this many hole thicknesses across the edge's line


FlatFill = Literal["edge-diffusion", "diffusion", "prefill"]  # the smooth fill of flat windows (FillOptions.flat_fill)
FLAT_FILLS: tuple[FlatFill, ...] = get_args(FlatFill)
ThinFill = Literal["biharmonic", "navier-stokes"]  # the fill of holes under diffuse_below (FillOptions.thin_fill)
THIN_FILLS: tuple[ThinFill, ...] = get_args(ThinFill)


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
    flat_fill: that smooth fill: "prefill" (the network's own push-pull guess, an average of a wide
    neighbourhood), "diffusion" (OpenCV's Navier-Stokes on the window: the hole's border carried in, diffusion.py)
    or "edge-diffusion": diffusion where the hole reaches the photo's edge, the prefill elsewhere. Inside the
    photo the average is robust to the border's noise (diffusion: -0.45 dB on 96 px squares); at the photo's edge
    it can only average one side and misses the gradient (diffusion: +0.36 dB on edge blobs; docs/benchmarks.md).
    thin_fill: how holes thinner than diffuse_below are filled: "biharmonic" (the smoothest surface through their
    border, diffusion.biharmonic: +1.25 and +1.4 dB over Navier-Stokes on specks and lines) or "navier-stokes"
    (OpenCV's, diffusion.diffuse).
    tone_share, tone_sigma, tone_depth: with texture on, the holes the network and FSR fill take this share of
    Navier-Stokes diffusion's Gaussian low-pass (sigma px) in place of their own, less deep inside (the share
    times exp(-distance / tone_depth)): the two err differently about a hole's tone, and their average errs
    less, while the detail stays the fill's (image_fill._blend_tone).
    line_fill, line_reach, line_sigma: with texture on, last, each piece of those holes whose known ring (read
    line_reach hole thicknesses around it, at least texture_options.min_reach px) holds one straight edge
    (texture.find_line, with texture_options' line settings) moves towards the interpolation along that edge by
    the edge's strength (line_fill.py; the known colours read through a Gaussian of line_sigma px). On 25 photos'
    painted holes, two seeds: +0.2 to +1.1 dB on every kind with holes thicker than diffuse_below
    (docs/benchmarks.md). `--smooth` leaves it out too. line_fade: a pixel that meets a known colour on one
    side only, where the piece's crop ends on the other, moves by exp(-distance / (line_fade x thickness));
    line_feather: the moves of neighbouring pieces are blended over that many thicknesses around each.
    """

    context_factors: tuple[float, ...] = (3.0, 6.0)
    flat_detail: tuple[float, float] = (0.003, 0.006)
    mirror: bool = True
    texture: bool = True  # the texture stage (texture.py): detail from the photo's own pixels; off: --smooth
    square_thicknesses: float = 2.0  # a long hole is cut into squares of this many thicknesses (at least input / 2)
    reconstruct_below: int = 32  # px: holes inside the photo thinner than this (not diffused) get OpenCV-contrib FSR
    diffuse_below: int = 8  # px: holes thinner than this are filled smoothly (thin_fill), no network
    texture_options: TextureOptions = field(default_factory=TextureOptions)
    flat_fill: FlatFill = "edge-diffusion"  # the smooth fill of flat windows, one of FLAT_FILLS
    thin_fill: ThinFill = "biharmonic"  # the fill of holes thinner than diffuse_below, one of THIN_FILLS
    tone_share: float = 0.5  # the share of diffusion's low-pass blended into the rest of the hole's; 0: none
    tone_sigma: float = 8.0  # px: the Gaussian sigma of that low-pass
    tone_depth: float = 64.0  # px: the share falls as exp(-distance to the nearest known pixel / this)
    line_fill: bool = True  # with texture on, carry straight edges through the holes (image_fill._continue_lines)
    line_reach: float = 1.0  # hole thicknesses of photo read beyond a piece of a hole when carrying an edge through it
    line_fade: float = 1.0  # one colour met where the crop ends: the move fades over this many thicknesses from it
    line_feather: float = 0.25  # pieces' moves are blended over this many thicknesses around each piece
    line_sigma: float = 0.5  # px: the Gaussian the known colours carried along an edge are read through

    def __post_init__(self) -> None:
        if not self.context_factors or min(self.context_factors) < 1:
            raise UsageError("context factors must be at least 1 (the window holds the hole)")
        if not 0 <= self.flat_detail[0] < self.flat_detail[1]:
            raise UsageError("flat_detail must be two increasing thresholds of at least 0")
        if self.flat_fill not in FLAT_FILLS:
            raise UsageError(f"flat_fill must be one of {', '.join(FLAT_FILLS)}, not {self.flat_fill!r}")
        if not 0 <= self.tone_share <= 1 or self.tone_sigma <= 0 or self.tone_depth <= 0:
            raise UsageError("tone_share must be in [0, 1], tone_sigma and tone_depth above 0")
        if not all(value >= 0 for value in (self.line_reach, self.line_sigma, self.line_feather)):  # nan too
            raise UsageError("line_reach, line_sigma and line_feather must be at least 0")
        if not self.line_fade > 0:
            raise UsageError("line_fade must be above 0")
        if self.thin_fill not in THIN_FILLS:
            raise UsageError(f"thin_fill must be one of {', '.join(THIN_FILLS)}, not {self.thin_fill!r}")
