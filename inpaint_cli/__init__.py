"""inpaint: fill holes in photos with a small U-Net."""

__version__ = "0.1.0"
