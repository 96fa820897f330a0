"""inpaint: fill holes in photos with a small U-Net.

From Python: `fill_image` (an image in memory), `fill_photos` with a `FillRequest` (files, as `inpaint fill`)
and `FillOptions`, found in stages.filling when first asked for: importing the package loads no numpy.
"""

__version__ = "0.1.0"
PUBLIC = ("fill_image", "fill_photos", "FillRequest", "FillOptions")


def __getattr__(name: str) -> object:
    """The public names of stages.filling, imported when first asked for."""
    if name in PUBLIC:
        from inpaint_cli.stages import filling

        return getattr(filling, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
