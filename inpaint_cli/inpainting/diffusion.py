"""Diffusion: a hole's colours carried in from the known pixels around it (OpenCV's Navier-Stokes inpainting).

Two stages use it: holes a few pixels thin (specks, hairlines) are filled by it outright, and flat windows whose
hole reaches the photo's edge take it as their smooth fill instead of the network's prefill
(context_windows.fill_colours): there the prefill's average of a wide neighbourhood sees only one side of the
hole and misses a gradient, while diffusion carries the hole's border in.
"""

from __future__ import annotations

import cv2
import numpy as np

DIFFUSION_RADIUS = 5  # px of known neighbours that each step looks at, as OpenCV's users set it


def diffuse(rgb: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 rgb with every unknown pixel (HxW, true or non-zero) diffused from the known ones around it."""
    return cv2.inpaint(np.ascontiguousarray(rgb), unknown.astype(np.uint8), DIFFUSION_RADIUS, cv2.INPAINT_NS)
