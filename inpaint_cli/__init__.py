"""inpaint: fill holes in photos with a small U-Net.

From Python: `fill_image` (an image in memory, inpainting.image_fill), `fill_photos` with a `FillRequest`
(files, as `inpaint fill`: stages.filling) and `FillOptions` (inpainting.fill_options). They are imported when
first asked for, so that importing the package loads no numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inpaint_cli.inpainting.fill_options import FillOptions
    from inpaint_cli.inpainting.image_fill import fill_image
    from inpaint_cli.stages.filling import FillRequest, fill_photos

__version__ = "0.1.0"
__all__ = ["FillOptions", "FillRequest", "fill_image", "fill_photos"]


def __getattr__(name: str) -> object:
    """The public names, from stages.filling (which has them all, fill_image also looked up when first asked for)."""
    if name in __all__:
        from inpaint_cli.stages import filling

        return getattr(filling, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
