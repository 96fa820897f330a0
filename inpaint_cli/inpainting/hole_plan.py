"""Which stage fills which pixels of a photo's holes, worked out once before any is filled (plan_holes).

A fill reads the photo, plans its hole, then fills stage by stage (image_fill.fill_pillow): holes a few pixels
thin are filled smoothly, thin strokes reconstructed, the rest goes to the network in layers, then to the texture stage.
The plan depends on the mask and the options alone, never on the photo's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from inpaint_cli.inpainting import masking, texture
from inpaint_cli.inpainting.fill_options import FillOptions

STROKE_LENGTH = 3  # a hole this many times as long as it is thick is a stroke


class HolePart(NamedTuple):
    """Some of a photo's hole pixels (bool HxW) and their connected holes (masking.hole_regions), found once."""

    pixels: np.ndarray
    regions: list[masking.HoleRegion]


@dataclass(frozen=True, eq=False)  # arrays: compared by identity, never element by element
class HolePlan:
    """A photo's hole split between the fill's stages, each part with its connected holes.

    The squares are cut from these regions by each stage, at its own size (the network's by its input size,
    the texture stage's by its tile, the reconstruction's by 4 thicknesses), so they are not part of the plan.
    """

    diffuse: np.ndarray | None  # holes thinner than options.diffuse_below: diffused (image_fill._diffuse)
    reconstruct: HolePart | None  # strokes inside the photo thinner than reconstruct_below, of the rest: FSR
    undiffused: np.ndarray  # the hole less the diffused pixels: no colour to reconstruct from
    network: HolePart  # the rest, the network's hole (maybe empty), which the texture stage then details
    layers: list[HolePart]  # the network's hole in layers, nearest the known pixels first; usually one, all of it

    @property
    def undiffused_regions(self) -> list[masking.HoleRegion]:
        """The connected holes of undiffused: the network's and the reconstruction's, each made of whole ones."""
        return self.network.regions + (self.reconstruct.regions if self.reconstruct is not None else [])


def plan_holes(hole: np.ndarray, options: FillOptions) -> HolePlan:
    """The plan for filling the bool HxW hole with options: its thin-hole split, connected holes and layers.

    The order matters: the holes to diffuse are found on the whole hole, the strokes to reconstruct on what
    diffusion leaves, and the network gets the rest.
    """
    diffuse = _thin_holes(hole, options.diffuse_below)
    undiffused = hole if diffuse is None else hole & ~diffuse
    reconstruct = _thin_holes(undiffused, options.reconstruct_below, strokes_inside=True)
    network = _part(undiffused if reconstruct is None else undiffused & ~reconstruct)
    return HolePlan(
        diffuse=diffuse,
        reconstruct=None if reconstruct is None else _part(reconstruct),
        undiffused=undiffused,
        network=network,
        layers=_layers(network),
    )


def _part(pixels: np.ndarray) -> HolePart:
    """Hole pixels with their connected holes: the one place a fill finds them."""
    return HolePart(pixels, masking.hole_regions(pixels))


def _thin_holes(hole: np.ndarray, below: int, strokes_inside: bool = False) -> np.ndarray | None:
    """The pixels of the connected holes (8-connected, at full resolution) thinner than below px, or None;
    with strokes_inside, only long ones (at least STROKE_LENGTH thicknesses) that do not touch the photo's edge.

    Thickness as masking.hole_regions has it: area over the long side of the bounding rectangle; without
    strokes_inside, a hole none of whose pixels lies over below / 2 px from a known one is thin too.
    """
    if below <= 0:
        return None
    bounds = masking.bounding_rect(hole)
    if not bounds.width:  # no hole pixel left
        return None
    crop = hole[bounds.slices].astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
    sides = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    thin = stats[:, cv2.CC_STAT_AREA] < below * sides
    if strokes_inside:
        thin &= sides.astype(np.int64) ** 2 >= STROKE_LENGTH * stats[:, cv2.CC_STAT_AREA]
        left, top = stats[:, cv2.CC_STAT_LEFT] + bounds.left, stats[:, cv2.CC_STAT_TOP] + bounds.top
        right, bottom = left + stats[:, cv2.CC_STAT_WIDTH], top + stats[:, cv2.CC_STAT_HEIGHT]
        thin &= (left > 0) & (top > 0) & (right < hole.shape[1]) & (bottom < hole.shape[0])
    else:
        # A network of crossing hairlines (cracks, a scanned scratch pattern) has the area of a thick hole on its
        # bounding rectangle, but no pixel of it is farther than a hairline's half width from a known one.
        thick_cores = cv2.distanceTransform(crop, cv2.DIST_L2, 3) > below / 2  # L1 counts crossings as thick
        thin |= ~np.isin(np.arange(count), labels[thick_cores])
    thin[0] = False  # the background
    if not thin[1:].any():
        return None
    mask = np.zeros_like(hole)
    mask[bounds.slices] = thin[labels]
    return mask


def _layers(network: HolePart) -> list[HolePart]:
    """The network's hole in layers to fill one after another, those nearest the known pixels first; usually one.

    A hole as tall as the photo's short side (a strip across a panorama, a box covering a whole side)
    leaves windows with no known pixel, which the network fills black. So where a hole reaches farther
    than a sixth of the short side from known pixels, the pixels within that distance are filled
    first and count as known for the next layer.
    """
    reach = max(1, min(network.pixels.shape) // 6)
    if all(region.thickness <= 2 * reach for region in network.regions):
        return [network]
    layers, remaining = [], network.pixels.copy()
    while remaining.any():
        layer = remaining & (texture.distance_to_known(remaining) <= reach)
        layers.append(_part(layer))
        remaining &= ~layer
    return layers
