"""Checks on a file a command will write at the end of a long run (evaluate's --json and --sheet, prepare's
--preview), made before the run starts: so the work is not lost to a typo, and no input or file of the user's is
replaced unasked.
"""

from __future__ import annotations

from pathlib import Path

from inpaint_cli.errors import OutputExists, UsageError
from inpaint_cli.files import images


def check_new_output(
    option: str, path: Path, inputs: set[Path], force: bool, image: bool = False, folder_made_first: bool = False
) -> None:
    """Refuse path (given as option) when it is a folder, in a folder that does not exist (unless the run makes it
    first), one of the inputs (resolved paths; even with force), an existing file without force, or, for an image,
    named with no suffix of a format this Pillow writes. One line each.
    """
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; name a file in it")
    if not path.parent.is_dir() and not folder_made_first:
        raise UsageError(f"{option} {path}: the folder {path.parent} does not exist")
    if path.resolve() in inputs:
        raise UsageError(f"{option} {path} is one of the input photos; name another file")
    if image and image_format(path) is None:
        writable = ", ".join(suffix for suffix, name in images.FORMATS.items() if _pillow_writes(name))
        raise UsageError(f"{option} {path}: name it with the suffix of an image format ({writable})")
    if path.exists() and not force:
        raise OutputExists(f"{option} {path} already exists")


def image_format(path: Path) -> str | None:
    """The Pillow format path's suffix names, when this Pillow can write it; else None."""
    format_name = images.FORMATS.get(path.suffix.lower())
    return format_name if format_name is not None and _pillow_writes(format_name) else None


def _pillow_writes(format_name: str) -> bool:
    """Whether this Pillow can write the format (WebP needs libwebp), so a write at the end cannot fail on it."""
    from PIL import features

    return format_name != "WEBP" or bool(features.check("webp"))
