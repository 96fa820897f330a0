from pathlib import Path

import numpy as np
import pytest
from conftest import landscape
from PIL import Image

from inpaint_cli.errors import InpaintError
from inpaint_cli.files import images


def test_photo_reader_reads_ahead_in_order_and_raises_a_bad_photos_error_in_the_caller(tmp_path: Path) -> None:
    paths = [tmp_path / f"{name}.png" for name in "abcd"]
    for seed, path in enumerate(paths):
        Image.fromarray(landscape(40, 50, seed=seed)).save(path)
    paths[1].write_bytes(b"not a photo")  # fails while its header is read, in the caller's thread
    paths[3].write_bytes(paths[3].read_bytes()[:200])  # fails while decoding, in the reader's thread
    reader = images.PhotoReader(paths)
    assert np.array_equal(np.asarray(reader.open(paths[0]).image), landscape(40, 50, seed=0))
    with pytest.raises(InpaintError, match="not an image"):
        reader.open(paths[1])
    assert np.array_equal(np.asarray(reader.open(paths[2]).image), landscape(40, 50, seed=2))
    with pytest.raises(InpaintError, match="could not be decoded"):
        reader.open(paths[3])
    # Out of order (and a path it was never given) it simply reads synchronously.
    assert reader.open(paths[0]).image.size == (50, 40)
    other = tmp_path / "other.png"
    Image.fromarray(landscape(20, 30, seed=4)).save(other)
    assert reader.open(other).image.size == (30, 20)


def test_photo_reader_follows_the_order_given_when_a_path_repeats(tmp_path: Path) -> None:
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    Image.fromarray(landscape(30, 40, seed=1)).save(first)
    Image.fromarray(landscape(20, 40, seed=2)).save(second)
    reader = images.PhotoReader([first, first, second])
    sizes = [reader.open(path).image.size for path in (first, first, second)]
    assert sizes == [(40, 30), (40, 30), (40, 20)]
    assert reader._ahead is None  # nothing left to read ahead after the last


def test_photo_reader_raises_any_error_of_the_next_photo_only_when_that_photo_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [tmp_path / f"{name}.png" for name in "ab"]
    for seed, path in enumerate(paths):
        Image.fromarray(landscape(20, 30, seed=seed)).save(path)
    opened = images._opened

    def refuse_the_second(path: Path, max_pixels: int | None = None) -> Image.Image:
        if path == paths[1]:
            raise PermissionError(13, "Permission denied")
        return opened(path, max_pixels)

    monkeypatch.setattr(images, "_opened", refuse_the_second)
    reader = images.PhotoReader(paths)
    assert reader.open(paths[0]).image.size == (30, 20)  # the second's header is read here, and fails
    with pytest.raises(PermissionError):
        reader.open(paths[1])
