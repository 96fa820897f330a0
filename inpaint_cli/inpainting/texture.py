"""The texture stage: the network's smooth fill gives the hole's broad shading, the photo's own known pixels its detail.

Without it a textured area (bark, grass, pebbles) is filled with a smooth smudge that shows where the hole was.

Per hole, with NumPy array operations and OpenCV calls only (no randomness, nothing compiled):
1. Border correction. Where the guide's colour steps against the known pixels at the hole's border (local means
   on either side), the step is spread smoothly over the hole (push-pull interpolation on a Gaussian pyramid) and
   added to the guide's low-pass (below a Gaussian of SIGMA px), so a fill that came out too grey or too dark no
   longer shows as a square.
2. Candidate sources. The hole is cut into blocks at a scale where it is about COARSE px thick; each block, with a
   margin, is matched (cv2.matchTemplate, weighted SSD) against known pixels within SEARCH hole thicknesses, on
   full luminance where its margin is known and on low-pass colour against the guide in the hole, then refined at
   full size (on luminance and low-pass luminance). Each block gives one source offset.
3. Labels. Every hole pixel takes the offset whose source agrees best, summed over a SMOOTH px box, with the
   guide's low-pass in the hole and the known pixels at the border: labels form patches that continue the border.
4. Output: the corrected low-pass plus the source's high-pass (below SIGMA), plus shares of the source's own
   colour in place of the guide's in two bands: the mid band between SIGMA and MID_SIGMA (blades, twigs, rock
   edges, blotches of 5-30 px) and the coarse band below MID_SIGMA, at MID_SHARE and COARSE_SHARE where the
   surroundings are textured: without the sources' own structure the fill is a patch of the right grain over a
   smooth smudge. (Fitting the shares per hole on a hidden ring of known pixels scored within 0.04 dB of these
   fixed shares on big photos and took a second search.) The bands are blended across label
   seams over FEATHER px, and the border correction of step 1 runs again on the result, so a source
   whose colour steps against the known pixels leaves no square outline.
Where the known ring around the hole is near flat (sky, calm water), the shares are 0 and only the surroundings'
own faint grain is added: no copied gradients, no seams. And a source whose coarse colour lies far from the fill's
there gives less of all three, by exp(-(distance / COLOUR_AGREEMENT)^2 / 2): a sky hole whose only sources near
it were a wall's stones got the stones' blocks in blue.

Line mode (options.line_mode, docs/line-mode.md). Where the known ring holds one straight edge (a beam, a cable, the
horizon: the ring's structure tensor is coherent and strong), the hole is a line hole:
- the label costs of step 3 also count the cost averaged along the edge, so sources that continue the edge from far
  along it win over ones that only agree with the guide's blur;
- block matching against the guide rarely finds a source holding the edge's far end, so each side along the edge
  gets extra candidate offsets matched on the known ring; they may fill only pixels near the edge's line;
- a source whose offset runs along the edge gives its mid and coarse bands in full, and every source's coarse band
  is moved by its median step against the guide's. A source from across the edge (on a curved ridge: hill in the
  sky) keeps the shares above.
Other holes pay only for the structure-tensor test and are textured as without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import cv2
import numpy as np

from inpaint_cli.inpainting.fill_options import TextureOptions
from inpaint_cli.inpainting.rectangles import Rect

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
INVALID = np.float32(1e12)


class Line(NamedTuple):
    """A straight edge through a hole's known ring (line mode)."""

    strength: float  # how clearly the ring holds it, in (0, 1]
    angle: float  # its direction, radians, x towards y
    centre: tuple[float, float]  # (y, x) of a point on it, in the hole's search area

    @property
    def along(self) -> np.ndarray:
        """The unit vector (y, x) along the edge."""
        return np.array([np.sin(self.angle), np.cos(self.angle)])

    @property
    def across(self) -> np.ndarray:
        """The unit vector (y, x) normal to the edge."""
        return np.array([np.cos(self.angle), -np.sin(self.angle)])


def add_texture(
    guide: np.ndarray,
    hole: np.ndarray,
    strength: float = 1.0,
    options: TextureOptions = TextureOptions(),  # noqa: B008 - frozen, so one shared default is safe
    unknown: np.ndarray | None = None,
) -> np.ndarray:
    """Add the photo's own texture to a smooth fill.

    guide: uint8 HxWx3 crop around the hole, about 3x its side (options.reach), the hole filled by the network;
    hole: bool HxW, True = the pixels to texture; unknown: bool HxW, the pixels that are no source (default:
    hole), a superset of hole: the rest of a long hole, textured piece by piece. Beyond the crop counts as
    unknown: a crop ends there only at the photo's edge. strength in [0, 1]: how far the hole moves from the
    guide to the textured fill. Returns uint8 HxWx3: the guide outside the hole untouched, the hole with texture.
    Deterministic: the stage draws no random numbers.
    """
    hole = hole.astype(bool)
    unknown = hole if unknown is None else unknown.astype(bool) | hole
    result = guide.copy()
    if not hole.any() or unknown.all() or strength <= 0:
        return result
    image = guide.astype(np.float32)
    ys, xs = np.nonzero(hole)
    thickness = 2 * float(distance_to_known(hole)[hole].max())
    scale = max(1, round(thickness / options.coarse))
    pad = max(options.smooth, int(3 * options.border_sigma))
    area = Rect(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1).grown(pad, *hole.shape)
    here = area.slices
    image_here, hole_here = image[here], hole[here]
    ring = _grow(hole_here, options.ring) & ~unknown[here]
    low_here = cv2.GaussianBlur(image_here, (0, 0), options.sigma)
    energy = float(np.abs((image_here - low_here)[ring] @ LUMA).mean()) if ring.any() else 0.0
    textured = _ramp(energy, options.flat)
    base = low_here + _border_correction(image_here, hole_here, options)
    base_coarse = _wide_blur(base, options.mid_sigma)
    line = find_line(image_here, hole_here, unknown[here], thickness, options) if options.line_mode else None
    source_high, source_mid, source_coarse, chosen, aligned = _sources(
        image, hole, unknown, scale, thickness, area, options, line, base_coarse
    )
    a_mid, a_coarse = options.mid_share * textured, options.coarse_share * textured
    if line is not None:  # the sources' own bands where they continue the edge, not the guide's blur
        share = line.strength * aligned[chosen][:, None]
        a_mid, a_coarse = np.maximum(a_mid, share), np.maximum(a_coarse, share)
    base_mid = base - base_coarse
    texture = (
        source_high[chosen]
        + a_mid * (source_mid[chosen] - base_mid[chosen])
        + a_coarse * (source_coarse[chosen] - base_coarse[chosen])
    )
    if options.colour_agreement > 0:  # a source of another colour than the fill there (stone for sky): less of it
        difference = local_mean(source_coarse - base_coarse, chosen, options.agreement_sigma)[chosen]
        apart = np.linalg.norm(difference, axis=-1) / options.colour_agreement
        texture *= np.exp(-0.5 * apart**2)[:, None]
    base[chosen] += texture
    # Again on the result: a source whose colour steps against the known pixels would leave a square outline.
    base = np.where(hole_here[..., None], base, image_here)
    base += _border_correction(base, hole_here, options)
    return _write(result, base, hole, here, strength)


def find_line(
    image: np.ndarray, hole: np.ndarray, unknown: np.ndarray, thickness: float, options: TextureOptions
) -> Line | None:
    """The straight edge the known ring around the hole holds, or None where it holds none.

    Its strength is the coherence and strength of the ring's structure tensor; its centre the ring's pixels
    averaged with their squared gradient as weight. The ring skips the known pixels next to the hole (line_skip),
    whose blur and Sobel see the guide's square edge.
    """
    outer = _grow(hole, max(8, int(thickness / 4)) + options.line_skip)
    ring = outer & ~_grow(unknown, options.line_skip)
    if not ring.any():
        return None
    luma = cv2.GaussianBlur(image @ LUMA, (0, 0), 2.0)
    gx, gy = cv2.Sobel(luma, cv2.CV_32F, 1, 0)[ring], cv2.Sobel(luma, cv2.CV_32F, 0, 1)[ring]
    energy = gx * gx + gy * gy
    ry, rx = np.nonzero(ring)
    total = max(float(energy.sum()), 1e-9)
    jxx, jxy, jyy = float((gx * gx).mean()), float((gx * gy).mean()), float((gy * gy).mean())
    root = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2)
    coherence = _ramp(root / max(jxx + jyy, 1e-9), options.line_coherence)
    strength = coherence * _ramp(np.sqrt(root), options.line_gradient)
    if strength <= 0:
        return None
    angle = float(0.5 * np.arctan2(2 * jxy, jxx - jyy) + np.pi / 2)  # the gradient's direction turned a quarter
    return Line(strength, angle, (float(ry @ energy / total), float(rx @ energy / total)))


def _ramp(value: float, between: tuple[float, float]) -> float:
    """0 below between[0], 1 above between[1], linear in between."""
    return float(np.clip((value - between[0]) / (between[1] - between[0]), 0, 1))


def _write(
    result: np.ndarray, fill: np.ndarray, hole: np.ndarray, here: tuple[slice, slice], strength: float
) -> np.ndarray:
    """result with its hole pixels within here moved by strength from the guide they hold to the fill, rounded."""
    region = result[here]
    guide = region[hole[here]].astype(np.float32)
    region[hole[here]] = np.clip(np.rint(guide + strength * (fill[hole[here]] - guide)), 0, 255).astype(np.uint8)
    return result


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    """The mask dilated by a square of radius px."""
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * radius + 1,) * 2, np.uint8)).astype(bool)


def _sources(
    image: np.ndarray,
    hole: np.ndarray,
    unknown: np.ndarray,
    scale: int,
    thickness: float,
    area: Rect,
    options: TextureOptions,
    line: Line | None = None,
    guide_coarse: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Over area: the chosen sources' high-pass, mid band and coarse band (float32 HxWx3), where chosen, and how far
    (0..1, blended like the bands) the chosen sources' offsets run along a line hole's edge (0 without a line).

    guide_coarse: the guide's coarse band over area, to which a line hole's sources' coarse bands are moved.
    """
    low = cv2.GaussianBlur(image, (0, 0), options.sigma)
    # Known pixels whose high-pass does not mix in the hole.
    source_ok = ~_grow(unknown, int(np.ceil(2 * options.sigma)))
    features = np.concatenate([(image @ LUMA)[..., None], low], axis=-1)
    reach = int(options.search * max(thickness, 32))
    offsets = _candidates(features, hole, unknown, source_ok, scale, reach, options)
    line_costs = None
    if line is not None:
        edge_costs = _edge_candidates(features[..., 0], hole, unknown, thickness, line, scale, options)
        offsets = np.array(sorted(set(map(tuple, offsets.tolist())) | set(edge_costs)), np.int64).reshape(-1, 2)
        line_costs = _line_costs(image, unknown, area, thickness, line, edge_costs, options)
    shape = (area.height, area.width)
    if len(offsets) == 0:
        empty = np.zeros(shape + (3,), np.float32)
        return empty, empty.copy(), empty.copy(), np.zeros(shape, bool), np.zeros(shape, np.float32)
    label = _labels(image, low, unknown, source_ok, offsets, area, options, line_costs)
    inside = hole[area.slices]
    return _gather(image, low, source_ok, offsets, label, inside, area, options, line, guide_coarse)


def _gather(
    image: np.ndarray,
    low: np.ndarray,
    source_ok: np.ndarray,
    offsets: np.ndarray,
    label: np.ndarray,
    inside: np.ndarray,
    area: Rect,
    options: TextureOptions,
    line: Line | None,
    guide_coarse: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """_sources' bands over area, each hole pixel (inside) taking its label's source: the high-pass as it is, the mid
    and coarse bands blended across label seams over options.feather px."""
    coarse = _wide_blur(image, options.mid_sigma)
    high, mid = image - low, low - coarse
    shape = inside.shape
    source_high = np.zeros(shape + (3,), np.float32)
    source_mid, source_coarse = np.zeros_like(source_high), np.zeros_like(source_high)
    chosen = np.zeros(shape, bool)
    total, aligned = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    for k, (dy, dx) in enumerate(offsets):
        valid = _shifted(source_ok, dy, dx, area, False)
        mine = (label == k) & valid & inside
        if mine.any():
            source_high[mine] = _shifted(high, dy, dx, area, 0)[mine]
            chosen |= mine
            weight = cv2.GaussianBlur(mine.astype(np.float32), (0, 0), options.feather) * valid
            source_mid += weight[..., None] * _shifted(mid, dy, dx, area, 0)
            shifted = _shifted(coarse, dy, dx, area, 0)
            if line is not None:
                shifted = _median_moved(shifted, mine, guide_coarse, options.median_stride)
                aligned += weight * _alignment(line, dy, dx, options.line_align)
            source_coarse += weight[..., None] * shifted
            total += weight
    source_mid /= np.maximum(total, 1e-6)[..., None]
    source_coarse /= np.maximum(total, 1e-6)[..., None]
    return source_high, source_mid, source_coarse, chosen, aligned / np.maximum(total, 1e-6)


def _median_moved(coarse: np.ndarray, mine: np.ndarray, guide_coarse: np.ndarray, stride: int) -> np.ndarray:
    """A source's coarse band over area moved by its median step against the guide's over mine (every stride-th pixel):
    a source from far along the edge brings its structure, not its broad colour."""
    at = np.flatnonzero(mine)[::stride]
    step = np.median(coarse.reshape(-1, 3)[at] - guide_coarse.reshape(-1, 3)[at], axis=0)
    return coarse - step.astype(np.float32)


def _alignment(line: Line, dy: int, dx: int, align: float) -> float:
    """How far (0..1) the offset (dy, dx) runs along the line: a Gaussian of align px on its distance across it."""
    return float(np.exp(-0.5 * (float(line.across @ (dy, dx)) / align) ** 2))


def _wide_blur(image: np.ndarray, sigma: float, step: int = 4) -> np.ndarray:
    """A Gaussian blur of large sigma, made at 1/step size: area-averaged down, blurred, linearly back up."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(width // step, 1), max(height // step, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), np.sqrt(max(sigma**2 - step**2 / 4, 1.0)) / step)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR).reshape(image.shape)


def distance_to_known(hole: np.ndarray) -> np.ndarray:
    """Distance (px) of every hole pixel to the nearest known pixel; beyond the array counts as hole.

    A crop ends only at the photo's edge, and nothing is known beyond it: counted as known, a hole at the edge
    took the zeros there as its border's colour and came out dark.
    """
    padded = np.pad(hole, 1, constant_values=True).astype(np.uint8)
    return cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1]


def local_mean(image: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-weighted mean of image over the mask's pixels (normalised convolution)."""
    weight = mask.astype(np.float32)
    total = cv2.GaussianBlur(weight, (0, 0), sigma)
    return cv2.GaussianBlur(image * weight[..., None], (0, 0), sigma) / np.maximum(total, 1e-6)[..., None]


def _border_correction(image: np.ndarray, hole: np.ndarray, options: TextureOptions) -> np.ndarray:
    """A smooth field that removes the step between the known pixels and the guide at the hole's border.

    image: float32 crop with the guide in the hole. At hole pixels within border_band of the border, the mismatch
    is the local mean of the known pixels minus that of the guide inside; it is spread smoothly over the rest of
    the hole by push-pull interpolation. Zero outside the hole. The photo's edge is no border: nothing is known there.
    """
    known_mean = local_mean(image, ~hole, options.border_sigma)
    guide_mean = local_mean(image, hole, options.border_sigma)
    band = (hole & (distance_to_known(hole) <= options.border_band)).astype(np.float32)
    mismatch = (known_mean - guide_mean) * band[..., None]
    return _push_pull(mismatch, band) * hole[..., None]


def interpolate(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 rgb with every hole pixel a smooth blend of the known colours nearest it (push-pull).

    For photos the network cannot fill (a few pixels thin, or almost all hole).
    """
    known = (~hole).astype(np.float32)
    smooth = _push_pull(rgb.astype(np.float32) * known[..., None], known)
    result = rgb.copy()
    result[hole] = np.clip(np.rint(smooth[hole]), 0, 255).astype(np.uint8)
    return result


def _push_pull(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Smooth interpolation of HxWx3 values known where weight > 0 (values premultiplied by weight), everywhere.

    Both are averaged down a Gaussian pyramid to a few pixels; coming back up, each level keeps its own mean where
    its weight is high and takes the coarser level's estimate, smoothly upsampled, where it is low.
    """
    levels = [(values, weight)]
    while max(levels[-1][1].shape) > 4:
        levels.append((cv2.pyrDown(levels[-1][0]), cv2.pyrDown(levels[-1][1])))
    estimate = None
    for level_values, level_weight in reversed(levels):
        mean = level_values / np.maximum(level_weight, 1e-6)[..., None]
        if estimate is None:
            coarse = np.full_like(mean, 0) + level_values.sum((0, 1)) / max(float(level_weight.sum()), 1e-6)
        else:
            coarse = cv2.pyrUp(estimate, dstsize=level_weight.shape[::-1])
        confidence = np.minimum(4 * level_weight, 1)[..., None]
        estimate = confidence * mean + (1 - confidence) * coarse
    return estimate


def _box_sum(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Sums of a bool array over every height x width window (top-left anchored)."""
    integral = cv2.integral(array.astype(np.uint8), sdepth=cv2.CV_32S)
    return (
        integral[height:, width:]
        - integral[:-height, width:]
        - integral[height:, :-width]
        + integral[:-height, :-width]
    )


def _weights(unknown: np.ndarray, channels: int, low_weight: float) -> np.ndarray:
    """matchTemplate weights for the features of a template window: luminance, then channels - 1 low-pass ones
    (RGB, or the luminance of _lumas)."""
    weights = np.empty(unknown.shape + (channels,), np.float32)
    weights[..., 0] = ~unknown  # full luminance where known
    weights[..., 1:] = np.where(unknown, np.sqrt(low_weight), 1)[..., None]  # low-pass everywhere
    return weights


def _match(
    image: np.ndarray, template: np.ndarray, unknown: np.ndarray, bad: np.ndarray, low_weight: float
) -> tuple[int, int] | None:
    """Top-left (y, x) in image of the weighted-SSD best match of template, skipping windows with any bad pixel."""
    th, tw = template.shape[:2]
    if th >= image.shape[0] or tw >= image.shape[1]:
        return None
    weights = _weights(unknown, template.shape[-1], low_weight)
    cost = cv2.matchTemplate(image, template, cv2.TM_SQDIFF, mask=weights)
    cost[_box_sum(bad, th, tw) > 0] = np.inf
    if not np.isfinite(cost).any():
        return None
    y, x = np.unravel_index(np.argmin(cost), cost.shape)
    return int(y), int(x)


def _candidates(
    features: np.ndarray,
    hole: np.ndarray,
    unknown: np.ndarray,
    source_ok: np.ndarray,
    scale: int,
    reach: int,
    options: TextureOptions,
) -> np.ndarray:
    """Source offsets (dy, dx) in pixels: per block over the hole, the best match at 1/scale, refined at full size."""
    coarse_features, coarse_hole, coarse_unknown, coarse_ok = features, hole, unknown, source_ok
    if scale > 1:
        size = (features.shape[1] // scale, features.shape[0] // scale)
        coarse_features = cv2.resize(features, size, interpolation=cv2.INTER_AREA)
        coarse_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
        coarse_unknown = cv2.resize(unknown.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
        coarse_ok = cv2.resize(source_ok.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.999
    reach //= scale
    height, width = coarse_hole.shape
    ys, xs = np.nonzero(coarse_hole)
    if len(ys) == 0:
        return np.zeros((0, 2), np.int64)
    block, margin = max(options.block, int(np.ceil(np.sqrt(len(ys) / options.max_blocks)))), options.margin
    offsets = []
    for top in range(ys.min(), ys.max() + 1, block):
        for left in range(xs.min(), xs.max() + 1, block):
            if not coarse_hole[top : top + block, left : left + block].any():
                continue
            t0, l0 = max(top - margin, 0), max(left - margin, 0)
            t1, l1 = min(top + block + margin, height), min(left + block + margin, width)
            s0, r0 = max(t0 - reach, 0), max(l0 - reach, 0)
            s1, r1 = min(t1 + reach, height), min(l1 + reach, width)
            found = _match(
                coarse_features[s0:s1, r0:r1],
                coarse_features[t0:t1, l0:l1],
                coarse_unknown[t0:t1, l0:l1],
                ~coarse_ok[s0:s1, r0:r1],
                options.low_weight,
            )
            if found is None:
                continue
            dy, dx = (found[0] + s0 - t0) * scale, (found[1] + r0 - l0) * scale
            if scale > 1:  # refine within +-scale px at full size
                t0, t1, l0, l1 = t0 * scale, t1 * scale, l0 * scale, l1 * scale
                s0, r0 = max(t0 + dy - scale, 0), max(l0 + dx - scale, 0)
                s1, r1 = min(t1 + dy + scale, hole.shape[0]), min(l1 + dx + scale, hole.shape[1])
                found = _match(
                    _lumas(features[s0:s1, r0:r1]),
                    _lumas(features[t0:t1, l0:l1]),
                    unknown[t0:t1, l0:l1],
                    ~source_ok[s0:s1, r0:r1],
                    options.low_weight,
                )
                if found is not None:
                    dy, dx = found[0] + s0 - t0, found[1] + r0 - l0
            offsets.append((dy, dx))
    return np.array(sorted(set(offsets)), dtype=np.int64).reshape(-1, 2)  # np.unique(axis=0) imports numpy.ma: 6 ms


def _lumas(features: np.ndarray) -> np.ndarray:
    """Luminance and low-pass luminance of features (luminance, low-pass RGB): the refinement's two channels.

    Half the features, half matchTemplate's time at full size; scores within 0.03 dB of all four.
    """
    return np.ascontiguousarray(np.stack([features[..., 0], features[..., 1:] @ LUMA], axis=-1))


def _shifted(array: np.ndarray, dy: int, dx: int, area: Rect, fill: float) -> np.ndarray:
    """array[y + dy, x + dx] for (y, x) in area; fill where that is outside the array."""
    l0, t0, l1, t1 = area.left, area.top, area.right, area.bottom
    out = np.full((t1 - t0, l1 - l0) + array.shape[2:], fill, array.dtype)
    height, width = array.shape[:2]
    a0, a1 = max(t0 + dy, 0), min(t1 + dy, height)
    b0, b1 = max(l0 + dx, 0), min(l1 + dx, width)
    if a0 < a1 and b0 < b1:
        out[a0 - t0 - dy : a1 - t0 - dy, b0 - l0 - dx : b1 - l0 - dx] = array[a0:a1, b0:b1]
    return out


def _labels(
    image: np.ndarray,
    low: np.ndarray,
    unknown: np.ndarray,
    source_ok: np.ndarray,
    offsets: np.ndarray,
    area: Rect,
    options: TextureOptions,
    line_costs: _LineCosts | None = None,
) -> np.ndarray:
    """Per pixel of area, the index of the offset with the least box-summed cost (the first of equals).

    Cost of an offset at a pixel: full-colour SSD to the source where the pixel is known, low_weight x low-pass SSD
    to the source where it is unknown (the guide's low-pass); invalid where the source is not a known pixel.
    On a line hole, plus line mode's terms (_with_line_cost).
    A running minimum over the offsets: memory for two planes of area, not one per offset.
    """
    here = area.slices
    known = ~unknown[here]
    target = np.where(known[..., None], image[here], low[here])
    weight = np.where(known, 1.0, options.low_weight).astype(np.float32)
    best = np.full(known.shape, np.inf, np.float32)
    label = np.zeros(known.shape, np.int64)
    for k, (dy, dx) in enumerate(offsets):
        source = np.where(known[..., None], _shifted(image, dy, dx, area, 0), _shifted(low, dy, dx, area, 0))
        diff = source - target
        squared = np.einsum("ijc,ijc->ij", diff, diff)
        edge = line_costs is not None and (int(dy), int(dx)) in line_costs.edge_costs
        cost = (line_costs.edge_pixel_weight if edge else weight) * squared
        valid = _shifted(source_ok, dy, dx, area, False)
        cost[~valid] = INVALID
        cost = cv2.boxFilter(cost, -1, (options.smooth, options.smooth), borderType=cv2.BORDER_REPLICATE)
        if line_costs is not None:
            cost = _with_line_cost(cost, squared, valid, (int(dy), int(dx)), line_costs)
        better = cost < best
        best[better], label[better] = cost[better], k
    return label


class _LineCosts(NamedTuple):
    """Line mode's terms in the label costs of a line hole, over the hole's search area (_line_costs)."""

    weight: float  # of the terms: along_weight x the line's strength
    pixel_weight: np.ndarray  # per pixel, the weight of the squared error averaged along the edge
    kernel: np.ndarray  # the bar along the edge that average runs over, at 1/step size
    step: int  # that average is made at 1/step size
    miss: float  # along the edge, the cost of an invalid source
    edge_costs: dict[tuple[int, int], float]  # the edge candidates' offsets and ring matches, x edge_trust x 3
    edge_pixel_weight: np.ndarray  # per pixel, the weight of an edge candidate's squared error (less on the guide)
    far: np.ndarray  # the pixels too far across the edge's line for an edge candidate


def _line_costs(
    image: np.ndarray,
    unknown: np.ndarray,
    area: Rect,
    thickness: float,
    line: Line,
    edge_costs: dict[tuple[int, int], float],
    options: TextureOptions,
) -> _LineCosts:
    """Line mode's label-cost terms for a line hole (edge_costs: its edge candidates' ring matches)."""
    known = ~unknown[area.slices]
    ring = _grow(~known, options.ring) & known
    image_here = image[area.slices]
    miss = options.along_miss * float(image_here[ring].var(0).sum()) if ring.any() else 0.0
    step = options.along_step
    kernel = _line_kernel(options.along_length * thickness / step, options.along_width / step, line.angle)
    guide_share = options.low_weight * (1 - line.strength * options.edge_guide)
    yy, xx = np.ogrid[0 : known.shape[0], 0 : known.shape[1]]
    across = (yy - line.centre[0]) * line.across[0] + (xx - line.centre[1]) * line.across[1]
    trusted = {offset: options.edge_trust * 3 * match for offset, match in edge_costs.items()}
    return _LineCosts(
        weight=options.along_weight * line.strength,
        pixel_weight=np.where(known, 1.0, options.along_low_weight).astype(np.float32),
        kernel=kernel,
        step=step,
        miss=miss,
        edge_costs=trusted,
        edge_pixel_weight=np.where(known, 1.0, guide_share).astype(np.float32),
        far=np.abs(across) > options.edge_band * thickness,
    )


def _with_line_cost(
    cost: np.ndarray, squared: np.ndarray, valid: np.ndarray, offset: tuple[int, int], terms: _LineCosts
) -> np.ndarray:
    """An offset's box-summed label cost plus line mode's term: for an edge candidate its ring match (and INVALID
    far from the edge's line, not in a cloud far from the horizon), for any other the cost averaged along the edge.
    """
    ring_match = terms.edge_costs.get(offset)
    if ring_match is not None:
        cost = cost + terms.weight * ring_match
        cost[terms.far] = INVALID
        return cost
    return cost + terms.weight * _along_edge(squared, valid, terms)


def _along_edge(squared: np.ndarray, valid: np.ndarray, terms: _LineCosts) -> np.ndarray:
    """The squared error averaged along the edge: a source that continues the edge from known pixels far along it
    wins over one that only agrees with the guide's blur. Invalid sources count terms.miss by their share; where
    they are half the bar or more, INVALID."""
    plane = np.where(valid, terms.pixel_weight * squared, 0)
    both = np.stack([plane, ~valid], axis=-1).astype(np.float32)
    height, width = squared.shape
    size = (max(width // terms.step, 1), max(height // terms.step, 1))
    small = cv2.resize(both, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], 2)
    small = cv2.filter2D(small, -1, terms.kernel, borderType=cv2.BORDER_REPLICATE).reshape(size[1], size[0], 2)
    small = np.where(small[..., 1] < 0.5, small[..., 0] + small[..., 1] * terms.miss, INVALID).astype(np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _line_kernel(length: float, width: float, angle: float) -> np.ndarray:
    """A normalised kernel: a bar of length x width px along angle (radians, x towards y)."""
    half = max(int(np.ceil(length / 2)), 1)
    kernel = np.zeros((2 * half + 1,) * 2, np.float32)
    dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
    ends = [(round(half - dx), round(half - dy)), (round(half + dx), round(half + dy))]
    cv2.line(kernel, ends[0], ends[1], 1.0, thickness=max(round(width), 1))
    return kernel / kernel.sum()


def _edge_candidates(
    luma: np.ndarray,
    hole: np.ndarray,
    unknown: np.ndarray,
    thickness: float,
    line: Line,
    scale: int,
    options: TextureOptions,
) -> dict[tuple[int, int], float]:
    """Source offsets (dy, dx) along a line hole's edge, options.edge_candidates per side, with their ring match.

    Block matching against the guide's blur rarely finds a source holding the edge's far end. These are found on a
    grid at 1/scale size (edge_range hole thicknesses along the edge, +-edge_across steps across it), then refined
    at full size.
    """
    ring = _grow(hole, max(8, int(thickness / 4))) & ~unknown
    step = max(1, scale)
    height, width = luma.shape
    size = (max(width // step, 1), max(height // step, 1))
    small = cv2.resize(luma, size, interpolation=cv2.INTER_AREA) if step > 1 else luma
    small_ring = cv2.resize(ring.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    coarse_match = _ring_match(small, small_ring, options.edge_points // 2)
    fine_match = _ring_match(luma, ring, options.edge_points)
    low, high = options.edge_range
    distances = np.arange(low * thickness, high * thickness + 1e-6, 2 * step) / step
    across = np.arange(-options.edge_across, options.edge_across + 1)
    found = {}
    for sign in (1, -1):
        grid = np.rint(sign * distances[:, None, None] * line.along + across[None, :, None] * line.across)
        offsets = np.array(sorted(set(map(tuple, grid.reshape(-1, 2).astype(np.int64).tolist()))), np.int64)
        if len(offsets) == 0:
            continue
        for start in _best_apart(offsets * step, coarse_match(offsets), options.edge_candidates, thickness / 2):
            offset, match = _refine(start, fine_match, step)
            if np.isfinite(match):
                found[offset] = match
    return found


def _ring_match(luma: np.ndarray, ring: np.ndarray, points: int) -> Callable[[np.ndarray], np.ndarray]:
    """A function from offsets (N x 2, dy dx) to how badly the ring matches the ring shifted by each.

    On about `points` of the ring's pixels: the variance of the luminance difference (a constant step is the border
    correction's job), the guide's luminance where the shifted ring falls in the hole; inf where under half of the
    shifted points fall inside the array.
    """
    py, px = np.nonzero(ring)
    stride = max(1, int(np.ceil(len(py) / points)))
    py, px = py[::stride], px[::stride]
    height, width = luma.shape
    flat = luma.ravel()
    here = flat[py * width + px][None]

    def match(offsets: np.ndarray) -> np.ndarray:
        qy, qx = py[None] + offsets[:, :1], px[None] + offsets[:, 1:]
        inside = (qy >= 0) & (qy < height) & (qx >= 0) & (qx < width)
        diff = (np.take(flat, qy * width + qx, mode="clip") - here) * inside
        count = np.maximum(inside.sum(1), 1)
        mean = diff.sum(1) / count
        variance = np.einsum("ij,ij->i", diff, diff) / count - mean * mean
        variance[count < 0.5 * len(py)] = np.inf
        return variance

    return match


def _best_apart(offsets: np.ndarray, costs: np.ndarray, count: int, apart: float) -> list[np.ndarray]:
    """Up to count offsets of finite cost, the least first, each more than apart px (either axis) from those before."""
    picked: list[np.ndarray] = []
    for i in np.argsort(costs, kind="stable"):
        if not np.isfinite(costs[i]) or len(picked) >= count:
            break
        if all(np.abs(offsets[i] - other).max() > apart for other in picked):
            picked.append(offsets[i])
    return picked


def _refine(start: np.ndarray, match: Callable[[np.ndarray], np.ndarray], step: int) -> tuple[tuple[int, int], float]:
    """The offset of least match near start (within about step px), by a 3x3 search with halving spacing; its match."""
    around = np.array([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)], np.int64)
    best, value, spacing = start, np.inf, step
    while True:
        spacing = max(spacing // 2, 1)
        nearby = best + spacing * around
        costs = match(nearby)
        if np.isfinite(costs).any():
            best, value = nearby[int(np.argmin(costs))], float(costs.min())
        if spacing == 1:
            return (int(best[0]), int(best[1])), value
