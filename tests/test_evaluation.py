"""`inpaint evaluate`: metrics on known values, the fixed protocol, baselines, and the command."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import landscape
from PIL import Image
from typer.testing import CliRunner

from inpaint_cli.cli import app
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.files import images
from inpaint_cli.inpainting import masking
from inpaint_cli.inpainting.rectangles import Box
from inpaint_cli.stages import evaluation

runner = CliRunner()
ALL_METHODS = ["model", "shiftmap", "fsr", "telea", "ns", "biharmonic", "mean"]


@pytest.fixture
def eval_photos(tmp_path: Path) -> Path:
    """Four small generated photos of different shapes (centre-cropped by the protocol)."""
    folder = tmp_path / "val"
    folder.mkdir()
    for index, (height, width) in enumerate([(40, 48), (48, 40), (36, 36), (50, 64)]):
        suffix = ".jpg" if index == 1 else ".png"
        Image.fromarray(landscape(height, width, seed=index)).save(folder / f"photo{index}{suffix}")
    return folder


def test_identical_images_give_the_capped_psnr_and_no_error() -> None:
    image = landscape(32, 32, seed=1)
    mask = masking.draw_boxes([Box(4, 6, 10)], 32, 32)
    assert evaluation.hole_psnr(image, image, mask) == evaluation.PSNR_CAP_DB == 100.0
    assert evaluation.hole_l1(image, image, mask) == 0.0
    assert evaluation.box_ssim(image, image, Box(4, 6, 10)) == pytest.approx(1.0)


@pytest.mark.parametrize("offset", [1, 5, 40])
def test_constant_offset_in_the_hole_gives_the_textbook_psnr_and_l1(offset: int) -> None:
    image = np.clip(landscape(32, 32, seed=2), 0, 200).astype(np.uint8)
    box = Box(8, 3, 12)
    mask = masking.draw_boxes([box], 32, 32)
    filled = 255 - image  # wrong everywhere outside the hole: only hole pixels may count
    filled[mask > 0] = image[mask > 0] + offset
    assert evaluation.hole_psnr(image, filled, mask) == pytest.approx(-10 * math.log10((offset / 255) ** 2))
    assert evaluation.hole_l1(image, filled, mask) == pytest.approx(100 * offset / 255)
    ssim = evaluation.box_ssim(image, filled, box)
    assert ssim < 1.0
    assert ssim == pytest.approx(_ssim_of_a_constant_offset(image[box.slices], offset), rel=1e-9)


def _ssim_of_a_constant_offset(pixels: np.ndarray, offset: int) -> float:
    """The textbook SSIM of pixels against pixels + offset: contrast and structure terms are 1, so it is the mean
    luminance term (2 mu (mu + d) + C1) / (mu^2 + (mu + d)^2 + C1) over the valid 11 px Gaussian windows (sigma 1.5)
    and the channels, with C1 = (0.01 * max_val)^2."""
    taps = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    kernel = np.outer(taps, taps) / np.outer(taps, taps).sum()
    values, step, c1 = pixels.astype(np.float64) / 255.0, offset / 255.0, 0.01**2
    windows = np.lib.stride_tricks.sliding_window_view(values, (11, 11), axis=(0, 1))  # rows, cols, C, 11, 11
    mean = np.einsum("rcdij,ij->rcd", windows, kernel)
    return float(np.mean((2 * mean * (mean + step) + c1) / (mean**2 + (mean + step) ** 2 + c1)))


def test_a_one_pixel_hole() -> None:
    image = np.full((8, 8, 3), 100, np.uint8)
    filled = image.copy()
    filled[5, 2] = (110, 100, 90)  # errors of 10, 0, 10 levels
    mask = masking.draw_boxes([Box(2, 5, 1)], 8, 8)
    mse = (2 * (10 / 255) ** 2) / 3
    assert evaluation.hole_psnr(image, filled, mask) == pytest.approx(-10 * math.log10(mse))
    assert evaluation.hole_l1(image, filled, mask) == pytest.approx(100 * 20 / 255 / 3)
    assert -1.0 <= evaluation.box_ssim(image, filled, Box(2, 5, 1)) < 1.0
    with pytest.raises(ValueError, match="no hole pixels"):
        evaluation.hole_psnr(image, filled, np.zeros((8, 8)))


def test_hole_range_scales_with_the_model_size() -> None:
    assert evaluation.hole_range(128) == (16, 48)
    assert evaluation.hole_range(32) == (4, 12)
    assert evaluation.hole_range(256) == (32, 96)


def test_the_protocol_is_fixed_by_the_seed(eval_photos: Path) -> None:
    paths = sorted(eval_photos.iterdir())

    def boxes(seed: int) -> list[Box]:
        return [sample.box for _, sample in evaluation.holed_samples(paths, 32, seed)]

    assert boxes(1234) == boxes(1234)
    assert boxes(1234) != boxes(1235)
    for _, sample in evaluation.holed_samples(paths, 32, 1234):
        assert sample.original.shape == (32, 32, 3) and sample.original.dtype == np.uint8
        assert 4 <= sample.box.size <= 12 and sample.box.fits_in(32, 32)
        assert sample.holed[sample.mask > 0].max() == 0
        assert np.array_equal(sample.holed[sample.mask == 0], sample.original[sample.mask == 0])

    # An unreadable file takes its draw too: the other photos get the holes they would get were it readable.
    Image.fromarray(landscape(40, 40, seed=9)).save(eval_photos / "photo0b.png")
    readable = [sample.box for _, sample in evaluation.holed_samples(sorted(eval_photos.iterdir()), 32, 1234)]
    (eval_photos / "photo0b.png").write_bytes(b"not a png")
    with_broken = list(evaluation.holed_samples(sorted(eval_photos.iterdir()), 32, 1234))
    assert isinstance(with_broken[1][1], str) and "photo0b.png" in with_broken[1][1]
    assert [sample.box for index, (_, sample) in enumerate(with_broken) if index != 1] == readable[:1] + readable[2:]


def test_baselines_fill_the_hole_only() -> None:
    image = landscape(64, 64, seed=3)  # room for shift-map to find pieces to copy
    mask = masking.draw_boxes([Box(24, 40, 8)], 64, 64).astype(np.uint8)
    holed = image * (1 - mask)[..., None]
    for name, fill in evaluation.BASELINES.items():
        filled = fill(holed.copy(), mask)
        assert filled.shape == image.shape and filled.dtype == np.uint8, name
        assert np.array_equal(filled[mask == 0], holed[mask == 0]), name
        assert evaluation.hole_psnr(image, filled, mask) > 10, name
    known_mean = holed[mask == 0].astype(np.float64).mean(axis=0).round()
    assert np.array_equal(evaluation.mean_fill(holed, mask)[44, 28], known_mean)


def test_parse_baselines() -> None:
    assert evaluation.parse_baselines(evaluation.DEFAULT_BASELINES) == ALL_METHODS[1:]
    assert evaluation.parse_baselines(" mean, telea,mean ") == ["mean", "telea"]
    assert evaluation.parse_baselines("") == []
    with pytest.raises(UsageError) as error:
        evaluation.parse_baselines("telea,lama")
    assert str(error.value) == "unknown baseline 'lama'; choose from shiftmap, fsr, telea, ns, biharmonic, mean"


def test_missing_opencv_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(InpaintError) as error:
        evaluation.parse_baselines("mean,ns")
    assert str(error.value) == "the ns baseline needs OpenCV: pip install 'inpaint[eval]'"
    assert evaluation.parse_baselines("mean") == ["mean"]
    result = runner.invoke(app, ["evaluate", "anywhere", "--baselines", "telea"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: the telea baseline needs OpenCV: pip install 'inpaint[eval]'"


def test_missing_scikit_image_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "skimage", None)
    monkeypatch.setitem(sys.modules, "skimage.restoration", None)
    with pytest.raises(
        InpaintError, match=r"^the biharmonic baseline needs scikit-image: pip install 'inpaint\[eval\]'$"
    ):
        evaluation.parse_baselines("biharmonic")


def test_run_evaluation_is_repeatable_and_puts_the_model_first(eval_photos: Path, tiny_model_dir: Path) -> None:
    reports = []
    first = evaluation.run_evaluation(
        eval_photos, tiny_model_dir, ["mean"], seed=7, limit=3, on_photo=lambda *report: reports.append(report)
    )
    again = evaluation.run_evaluation(eval_photos, tiny_model_dir, ["mean"], seed=7, limit=3)
    assert [score.name for score in first.scores] == ["model", "mean"]
    assert first.protocol.photos == 3 and first.protocol.size == 32 and first.protocol.skipped == []
    for one, other in zip(first.scores, again.scores, strict=True):
        assert (one.psnr_db, one.l1_percent, one.ssim) == (other.psnr_db, other.l1_percent, other.ssim)
    assert first.gain_db(first.scores[0]) == pytest.approx(first.scores[0].psnr_db - first.scores[1].psnr_db)
    assert len(first.sheet_rows) == 3 and len(first.sheet_rows[0]) == 4  # holed, model, mean, original
    assert [(done, total, path.name, skipped) for done, total, path, skipped in reports] == [
        (1, 3, "photo0.png", None),
        (2, 3, "photo1.jpg", None),
        (3, 3, "photo2.png", None),
    ]


def test_run_evaluation_refuses_bad_input(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(UsageError, match="no photos in"):
        evaluation.run_evaluation(tmp_path, tiny_model_dir, ["mean"])
    with pytest.raises(UsageError, match="the number of photos must be at least 1"):
        evaluation.run_evaluation(tmp_path, tiny_model_dir, ["mean"], limit=0)
    with pytest.raises(UsageError, match="is not a folder"):
        evaluation.run_evaluation(tmp_path / "missing", tiny_model_dir, ["mean"])


def test_evaluate_command_prints_the_table_and_writes_json_and_sheet(
    eval_photos: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    scores, sheet = tmp_path / "scores.json", tmp_path / "sheet.png"
    arguments = ["evaluate", str(eval_photos), "--model", str(tiny_model_dir), "--seed", "3"]
    result = runner.invoke(app, [*arguments, "--json", str(scores), "--sheet", str(sheet)])
    assert result.exit_code == 0, result.output
    table_lines = [line for line in result.output.splitlines() if "│" in line and "Method" not in line]
    assert [line.split("│")[1].strip() for line in table_lines] == ALL_METHODS
    assert "vs best dB" in result.output and "Hole fill on 4 photos at 32 px" in result.output

    figures = json.loads(scores.read_text())
    assert [method["name"] for method in figures["methods"]] == ALL_METHODS
    assert figures["protocol"] == {
        "photo_dir": str(eval_photos),
        "model": str(tiny_model_dir),
        "seed": 3,
        "size": 32,
        "hole_min": 4,
        "hole_max": 12,
        "photos": 4,
        "skipped": [],
    }
    model = figures["methods"][0]
    best = max(figures["methods"][1:], key=lambda method: method["psnr_db"])
    assert figures["best_baseline"] == best["name"]
    assert figures["model_gain_db"] == pytest.approx(model["psnr_db"] - best["psnr_db"])
    assert all(method["ms_per_photo"] > 0 and 0 <= method["l1_percent"] <= 100 for method in figures["methods"])

    gap, header = 2, 14
    assert Image.open(sheet).size == (9 * (32 + gap) + gap, header + 4 * 32 + 6 * gap)  # 4 photos, 9 columns


def test_evaluate_command_usage_errors(eval_photos: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", str(eval_photos), "--baselines", "telea,magic"])
    assert result.exit_code == 2
    choices = "shiftmap, fsr, telea, ns, biharmonic, mean"
    assert result.output.strip() == f"Error: unknown baseline 'magic'; choose from {choices}"
    result = runner.invoke(app, ["evaluate", str(eval_photos), "--json", str(tmp_path / "missing" / "x.json")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(app, ["evaluate", "--help"])
    assert result.exit_code == 0 and "Example: inpaint evaluate" in result.output


def test_evaluate_never_writes_over_a_photo_or_an_existing_file_without_force(
    eval_photos: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    photo = images.find_images([eval_photos])[0]
    before = photo.read_bytes()
    arguments = ["evaluate", str(eval_photos), "--model", str(tiny_model_dir), "--baselines", "mean", "--limit", "1"]
    for option in ("--json", "--sheet"):
        result = runner.invoke(app, [*arguments, option, str(photo), "--force"])
        assert result.exit_code == 2 and "is one of the input photos" in result.output, result.output
    assert photo.read_bytes() == before
    existing = tmp_path / "scores.json"
    existing.write_text("mine")
    result = runner.invoke(app, [*arguments, "--json", str(existing)])
    assert result.exit_code == 2 and "already exists; use --force" in result.output
    assert existing.read_text() == "mine"
    same = ["--json", str(tmp_path / "a.png"), "--sheet", str(tmp_path / "a.png")]
    assert runner.invoke(app, [*arguments, *same]).exit_code == 2
    assert "suffix of an image format" in runner.invoke(app, [*arguments, "--sheet", str(tmp_path / "s.txt")]).output
    sheet = tmp_path / "sheet.jpg"
    result = runner.invoke(app, [*arguments, "--json", str(existing), "--sheet", str(sheet), "--force"])
    assert result.exit_code == 0, result.output
    assert json.loads(existing.read_text())["protocol"]["photos"] == 1
    assert Image.open(sheet).format == "JPEG"


def test_evaluate_walks_the_photo_folder_once_and_scores_as_run_evaluation_does(
    eval_photos: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder is listed once for the outputs' check and the run alike: a large or remote one is walked once."""
    alone = evaluation.run_evaluation(eval_photos, tiny_model_dir, ["mean"], seed=5, limit=3)
    walked = []
    find_images = images.find_images
    monkeypatch.setattr(images, "find_images", lambda sources: walked.append(sources) or find_images(sources))
    result = evaluation.evaluate(eval_photos, tiny_model_dir, "mean", seed=5, limit=3, json_path=tmp_path / "s.json")
    assert len(walked) == 1
    assert result.protocol == alone.protocol
    assert [(score.name, score.psnr_db, score.ssim) for score in result.scores] == [
        (score.name, score.psnr_db, score.ssim) for score in alone.scores
    ]


def test_detail_ratio_is_one_for_the_truth_and_far_below_for_a_blur() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 1
    assert evaluation.detail_ratio(image, image, mask) == pytest.approx(1.0)
    blurred = image.copy()
    blurred[10:30, 10:30] = image[10:30, 10:30].mean(axis=(0, 1)).round().astype(np.uint8)
    assert evaluation.detail_ratio(image, blurred, mask) < 0.2
    doubled = np.clip(128 + 2 * (image.astype(np.int16) - 128), 0, 255).astype(np.uint8)
    assert 1.3 < evaluation.detail_ratio(image, doubled, mask) < 2.0
