import dataclasses
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import small_prepare_args
from PIL import Image
from typer.testing import CliRunner

from inpaint_cli.cli import app
from inpaint_cli.errors import InpaintError, OutputExists, UsageError
from inpaint_cli.settings import PrepareConfig
from inpaint_cli.training import dataset, storage

CONFIG = dataset.PrepareConfig(size=32, hole_min=4, hole_max=12, val_fraction=0.25, seed=3)


def test_prepare_is_byte_identical_for_the_same_inputs_and_seed(photo_folder: Path, tmp_path: Path) -> None:
    first = dataset.prepare([photo_folder], tmp_path / "a", CONFIG)
    second = dataset.prepare([photo_folder], tmp_path / "b", CONFIG)
    assert first["counts"] == second["counts"] and first["counts"]["train"] + first["counts"]["validation"] == 24
    for name in first["shards"]["train"] + first["shards"]["validation"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    reseeded = dataclasses.replace(CONFIG, seed=4)
    other_seed = dataset.prepare([photo_folder], tmp_path / "c", reseeded)
    shard = "train-00000.tfrecord"
    assert (tmp_path / "a" / shard).read_bytes() != (tmp_path / "c" / shard).read_bytes()
    assert other_seed["counts"] == first["counts"]  # the split depends on paths, not on the seed


def test_split_is_decided_per_file_not_by_order() -> None:
    names = [f"folder/photo{index}.jpg" for index in range(2000)]
    splits = [dataset.split_of(name, 0.1) for name in names]
    assert 150 < splits.count("validation") < 250
    assert [dataset.split_of(name, 0.1) for name in reversed(names)] == splits[::-1]


def test_corrupt_files_are_skipped_and_listed(photo_folder: Path, tmp_path: Path) -> None:
    (photo_folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    (photo_folder / "empty.png").write_bytes(b"")
    reported = []
    manifest = dataset.prepare(
        [photo_folder], tmp_path / "ds", CONFIG, on_file=lambda done, total, path, skipped: reported.append(skipped)
    )
    assert manifest["counts"]["skipped"] == 2
    assert {entry["path"] for entry in manifest["skipped"]} == {
        str(photo_folder / "broken.jpg"),
        str(photo_folder / "empty.png"),
    }
    assert sum(reason is not None for reason in reported) == 2
    on_disk = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert on_disk == manifest and on_disk["parameters"]["seed"] == 3


def test_reader_yields_images_with_the_prepared_holes(photo_folder: Path, tmp_path: Path) -> None:
    manifest = dataset.prepare([photo_folder], tmp_path / "ds", CONFIG)
    pairs = list(dataset.read_split(tmp_path / "ds", manifest, "validation", random_holes=False))
    assert len(pairs) == manifest["counts"]["validation"]
    image, mask = (tensor.numpy() for tensor in pairs[0])
    assert image.shape == (32, 32, 3) and mask.shape == (32, 32, 1)
    side = int(np.sqrt(mask.sum()))
    assert 4 <= side <= 12 and mask.sum() == side * side


def test_no_readable_image_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no images"):
        dataset.prepare([tmp_path / "empty"], tmp_path / "ds", CONFIG)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.jpg").write_text("text")
    with pytest.raises(InpaintError, match="none of the 1 files"):
        dataset.prepare([tmp_path / "bad"], tmp_path / "ds", CONFIG)
    assert not (tmp_path / "ds" / "manifest.json").exists()


def test_existing_dataset_is_not_replaced_without_force(photo_folder: Path, tmp_path: Path) -> None:
    dataset.prepare([photo_folder], tmp_path / "ds", CONFIG)
    with pytest.raises(OutputExists, match="already holds a dataset"):
        dataset.prepare([photo_folder], tmp_path / "ds", CONFIG)
    dataset.prepare([photo_folder], tmp_path / "ds", CONFIG, force=True)


def test_missing_manifest_or_shard_is_reported(photo_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="manifest.json"):
        dataset.load_manifest(photo_folder)
    manifest = dataset.prepare([photo_folder], tmp_path / "ds", CONFIG)
    (tmp_path / "ds" / manifest["shards"]["train"][0]).unlink()
    with pytest.raises(InpaintError, match="missing shard"):
        dataset.load_manifest(tmp_path / "ds")


def test_training_stream_zooms_into_the_share_asked_deterministically(photo_folder: Path, tmp_path: Path) -> None:
    config = dataset.PrepareConfig(size=32, hole_min=4, hole_max=12, val_fraction=0.25, seed=0)
    manifest = dataset.prepare([photo_folder], tmp_path / "ds", config)

    def images(zoom_fraction: float) -> np.ndarray:
        stream = dataset.training_stream(tmp_path / "ds", manifest, seed=3, zoom_fraction=zoom_fraction)
        return np.stack([image.numpy() for image, _ in stream.take(24)])

    plain, zoomed, half = images(0.0), images(1.0), images(0.5)
    assert np.array_equal(zoomed, images(1.0))  # the same seed gives the same crops

    def roughness(batch: np.ndarray) -> np.ndarray:
        return np.abs(np.diff(batch, axis=2)).mean(axis=(1, 2, 3))

    assert roughness(zoomed).mean() < 0.7 * roughness(plain).mean()  # enlarged crops are smoother
    same = [np.array_equal(a, b) for a, b in zip(half, plain, strict=True)]
    assert 4 <= sum(same) <= 20  # about half are left as they were


def test_training_stream_draws_the_share_of_painted_holes_asked(photo_folder: Path, tmp_path: Path) -> None:
    config = dataset.PrepareConfig(size=32, hole_min=4, hole_max=12, val_fraction=0.25, seed=0)
    manifest = dataset.prepare([photo_folder], tmp_path / "ds", config)

    def squares(painted_fraction: float) -> int:
        stream = dataset.training_stream(tmp_path / "ds", manifest, seed=3, painted_fraction=painted_fraction)
        masks = [mask.numpy()[..., 0] > 0 for _, mask in stream.take(30)]
        return sum(_is_one_filled_square(mask) for mask in masks)

    assert squares(1.0) == 0  # blobs and bands only
    assert squares(0.0) >= 12  # two thirds of the holes are squares without painted ones


def _is_one_filled_square(mask: np.ndarray) -> bool:
    rows, columns = np.nonzero(mask)
    height, width = np.ptp(rows) + 1, np.ptp(columns) + 1
    return height == width and mask.sum() == height * width


def test_several_holes_per_image_are_drawn_and_read_back(photo_folder: Path, tmp_path: Path) -> None:
    config = dataclasses.replace(CONFIG, holes_per_image=3, hole_min=4, hole_max=6)
    manifest = dataset.prepare([photo_folder], tmp_path / "ds", config)
    pairs = list(dataset.read_split(tmp_path / "ds", manifest, "validation", random_holes=False))
    areas = [int(mask.numpy().sum()) for _, mask in pairs]
    # One hole covers at most 36 px; three (which may overlap) cover more than that in most samples.
    assert all(16 <= area <= 3 * 36 for area in areas)
    assert sum(area > 36 for area in areas) >= len(areas) // 2


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder (hidden ones too) with its bytes."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _interrupt_after(files: int):
    """An on_file that raises KeyboardInterrupt (as Ctrl-C does) once that many files are done."""

    def on_file(done: int, total: int, path: Path, skipped: str | None) -> None:
        if done == files:
            raise KeyboardInterrupt

    return on_file


def test_a_failed_or_interrupted_forced_prepare_leaves_the_old_dataset_as_it_was(
    photo_folder: Path, tmp_path: Path
) -> None:
    dataset.prepare([photo_folder], tmp_path / "ds", CONFIG)
    before = _snapshot(tmp_path / "ds")
    no_validation = dataclasses.replace(CONFIG, val_fraction=0.01)  # none of the 24 photos falls in it
    with pytest.raises(InpaintError, match="validation split"):
        dataset.prepare([photo_folder], tmp_path / "ds", no_validation, force=True)
    assert _snapshot(tmp_path / "ds") == before
    with pytest.raises(KeyboardInterrupt):
        dataset.prepare([photo_folder], tmp_path / "ds", CONFIG, on_file=_interrupt_after(5), force=True)
    assert _snapshot(tmp_path / "ds") == before
    dataset.load_manifest(tmp_path / "ds")


def test_a_failed_or_interrupted_prepare_into_a_new_folder_leaves_nothing(photo_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        dataset.prepare([photo_folder], tmp_path / "new" / "ds", CONFIG, on_file=_interrupt_after(5))
    assert not (tmp_path / "new").exists()
    with pytest.raises(InpaintError, match="validation split"):
        dataset.prepare([photo_folder], tmp_path / "other", dataclasses.replace(CONFIG, val_fraction=0.01))
    assert not (tmp_path / "other").exists()
    (tmp_path / "empty").mkdir()  # a folder the user made stays
    with pytest.raises(KeyboardInterrupt):
        dataset.prepare([photo_folder], tmp_path / "empty", CONFIG, on_file=_interrupt_after(5))
    assert (tmp_path / "empty").is_dir() and not list((tmp_path / "empty").iterdir())


def test_a_rename_failing_mid_swap_puts_the_old_dataset_back(
    photo_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset.prepare([photo_folder], tmp_path / "ds", CONFIG)
    before = {path.name: path.read_bytes() for path in (tmp_path / "ds").iterdir()}
    (tmp_path / "ds" / "my-own.tfrecord").write_bytes(b"mine")
    (tmp_path / "ds" / f"{dataset.STAGING_PREFIX}deadbeef").mkdir()  # left by a run killed outright
    real_rename, calls = storage.rename, []

    def failing_fifth_rename(source: str, target: str) -> None:
        calls.append(source)
        if len(calls) == 5:  # the 3 old files are aside, the first new shard is in: the worst moment
            raise InpaintError("disk full")
        real_rename(source, target)

    monkeypatch.setattr(storage, "rename", failing_fifth_rename)
    with pytest.raises(InpaintError, match="disk full"):
        dataset.prepare([photo_folder], tmp_path / "ds", dataclasses.replace(CONFIG, seed=4), force=True)
    after = {path.name: path.read_bytes() for path in (tmp_path / "ds").iterdir() if path.name != "my-own.tfrecord"}
    assert after == before and (tmp_path / "ds" / "my-own.tfrecord").read_bytes() == b"mine"
    monkeypatch.setattr(storage, "rename", real_rename)
    dataset.prepare([photo_folder], tmp_path / "ds", dataclasses.replace(CONFIG, seed=4), force=True)
    assert dataset.load_manifest(tmp_path / "ds")["parameters"]["seed"] == 4
    assert sorted(path.name for path in (tmp_path / "ds").iterdir()) == [
        "manifest.json",
        "my-own.tfrecord",
        "train-00000.tfrecord",
        "validation-00000.tfrecord",
    ]


def test_ctrl_c_during_the_swap_waits_until_the_new_dataset_is_in_place(
    photo_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset.prepare([photo_folder], tmp_path / "ds", CONFIG)
    real_rename = storage.rename

    def rename_after_ctrl_c(source: str, target: str) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # arrives between the old dataset's removal and the new one's move
        real_rename(source, target)

    monkeypatch.setattr(storage, "rename", rename_after_ctrl_c)
    earlier = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, whatever a test before set
    try:
        with pytest.raises(KeyboardInterrupt):
            dataset.prepare([photo_folder], tmp_path / "ds", dataclasses.replace(CONFIG, seed=4), force=True)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, earlier)
    assert dataset.load_manifest(tmp_path / "ds")["parameters"]["seed"] == 4
    assert sorted(path.name for path in (tmp_path / "ds").iterdir()) == [
        "manifest.json",
        "train-00000.tfrecord",
        "validation-00000.tfrecord",
    ]


@pytest.mark.parametrize(
    ("preview", "message"),
    [
        ("nowhere/sheet.png", "the folder"),
        ("photos", "is a folder"),
        ("photos/photo01.png", "is one of the input photos"),
        ("photos/more/photo00.jpg", "is one of the input photos"),  # found inside an input folder
        ("sheet.gif", "suffix of an image format"),
    ],
)
def test_a_bad_preview_is_refused_before_anything_is_written(
    photo_folder: Path, tmp_path: Path, preview: str, message: str
) -> None:
    before = _snapshot(photo_folder)
    with pytest.raises(UsageError, match=message):
        dataset.prepare([photo_folder], tmp_path / "ds", CONFIG, preview=tmp_path / preview)
    assert not (tmp_path / "ds").exists() and _snapshot(photo_folder) == before


def test_an_input_photo_given_as_preview_is_one_error_line(photo_folder: Path, tmp_path: Path) -> None:
    photo = photo_folder / "photo02.png"
    before = photo.read_bytes()
    result = CliRunner().invoke(app, [*small_prepare_args(photo_folder, tmp_path / "ds"), "--preview", str(photo)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "input photos" in lines[0]
    assert photo.read_bytes() == before and not (tmp_path / "ds").exists()


def test_an_existing_preview_is_replaced_only_with_force(photo_folder: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.png"
    sheet.write_bytes(b"the user's file")
    with pytest.raises(OutputExists, match="already exists"):
        dataset.prepare([photo_folder], tmp_path / "ds", CONFIG, preview=sheet)
    assert sheet.read_bytes() == b"the user's file" and not (tmp_path / "ds").exists()
    dataset.prepare([photo_folder], tmp_path / "ds", CONFIG, preview=sheet, force=True)
    assert Image.open(sheet).format == "PNG"


@pytest.mark.parametrize(("name", "format_name"), [("sheet.jpg", "JPEG"), ("sheet.webp", "WEBP")])
def test_the_preview_is_written_in_the_format_its_suffix_names(
    photo_folder: Path, tmp_path: Path, name: str, format_name: str
) -> None:
    dataset.prepare([photo_folder], tmp_path / "ds", CONFIG, preview=tmp_path / "ds" / name)  # ds is made first
    with Image.open(tmp_path / "ds" / name) as sheet:
        assert sheet.format == format_name and sheet.size == (8 * 32, 3 * 32)
    assert not list((tmp_path / "ds").glob(".tmp-*"))


def test_a_photo_named_twice_counts_once(photo_folder: Path, tmp_path: Path) -> None:
    photo = photo_folder / "photo01.png"
    manifest = dataset.prepare([photo, photo, photo_folder], tmp_path / "ds", CONFIG)
    assert manifest["counts"]["train"] + manifest["counts"]["validation"] == 24


def test_skipped_files_are_listed_by_the_path_they_were_found_at_as_the_sources_are(
    photo_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sources' broken.jpg are two entries a user can tell apart, named as the sources and reasons name them."""
    (tmp_path / "more").mkdir()
    for folder in (photo_folder, tmp_path / "more"):
        (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    monkeypatch.chdir(tmp_path)
    manifest = dataset.prepare([Path("photos"), Path("more")], tmp_path / "ds", CONFIG)
    assert manifest["sources"] == ["photos", "more"]
    assert [entry["path"] for entry in manifest["skipped"]] == [
        str(Path("photos", "broken.jpg")),
        str(Path("more", "broken.jpg")),
    ]
    assert all(entry["reason"].startswith(entry["path"] + " ") for entry in manifest["skipped"])


def test_size_and_hole_messages_name_the_options_to_change() -> None:
    with pytest.raises(UsageError, match="--size 40"):
        PrepareConfig(size=40).check()
    with pytest.raises(UsageError, match="--hole-min 16 and --hole-max 48 .* <= --size \\(32\\)"):
        PrepareConfig(size=32).check()


def test_a_full_disk_while_writing_shards_is_one_line_and_leaves_no_dataset(
    photo_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TensorFlow's record writer says "PATH; No space left on device" as a ResourceExhaustedError."""
    from inpaint_cli.backend import tf

    class FullDiskWriter:
        def __init__(self, path: str) -> None:
            self.path = path

        def write(self, record: bytes) -> None:
            raise tf.errors.ResourceExhaustedError(None, None, f"{self.path}; No space left on device")

        def close(self) -> None:  # closing flushes again, and fails too: the first failure is the one to tell
            raise tf.errors.DataLossError(None, None, f"{self.path}; closed after a failed write")

    monkeypatch.setattr(tf.io, "TFRecordWriter", FullDiskWriter)
    result = CliRunner().invoke(app, ["prepare", str(photo_folder), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "train-00000.tfrecord (No space left on device)" in result.output, result.output
    assert not (tmp_path / "ds").exists()
