"""`inpaint evaluate`: score a model against classical fills under a fixed protocol.

The protocol is fixed so that numbers are comparable across versions: every photo
(in file-name order) is centre-cropped to a square and resized to the model's
input size (bicubic); one square hole per photo, its side uniform in
round(16*S/128)..round(48*S/128) and its top-left uniform over the positions that
keep it inside, all from one numpy Generator seeded once for the whole run. The
holed photo is filled by the model and by every baseline, and each 8-bit result is
scored over the hole's pixels only, in [0, 1].

The baselines need scikit-image, from the optional `[eval]` extra (OpenCV comes with
the plain install); they are imported only when asked for.
"""

from __future__ import annotations

import importlib
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from inpaint_cli import __version__
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.files import atomic_files, images, new_outputs, training_photos
from inpaint_cli.inpainting import masking
from inpaint_cli.inpainting.rectangles import Box
from inpaint_cli.model import runtime
from inpaint_cli.model.runtime import Predictor
from inpaint_cli.settings import EVALUATION_SEED
from inpaint_cli.stages import filling

Fill = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (uint8 HxWx3 holed, uint8 HxW mask 1 = hole) -> uint8 HxWx3
EvaluationProgress = Callable[[int, int, Path, "str | None"], None]  # (done, total, photo, why it was skipped or None)

DEFAULT_BASELINES = "shiftmap,fsr,telea,ns,biharmonic,mean"
MODEL_NAME = "model"
PSNR_CAP_DB = 100.0  # an exact fill would be +inf; the MSE floor of 1e-10 matches the training metric
SHEET_PHOTOS = 6
TABLE_COLUMNS = ("Method", "PSNR dB", "vs best dB", "L1 %", "SSIM", "detail", "ms/photo")
INPAINT_RADIUS = 5  # pixels of neighbourhood for OpenCV's Telea and Navier-Stokes fills


# --- metrics: uint8 HxWx3 images, scored over hole pixels in [0, 1] ---------------------------------


def _hole_values(original: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hole = np.asarray(mask) > 0
    if not hole.any():
        raise ValueError("the mask has no hole pixels")
    return original[hole].astype(np.float64) / 255.0, filled[hole].astype(np.float64) / 255.0


def hole_psnr(original: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> float:
    """PSNR in dB (peak 1) over the hole pixels (mask > 0) of two uint8 HxWx3 images.

    Capped at PSNR_CAP_DB (100 dB) for an exact fill, so means stay finite and JSON stays valid.
    """
    truth, guess = _hole_values(original, filled, mask)
    mse = max(float(np.mean((truth - guess) ** 2)), 10 ** (-PSNR_CAP_DB / 10))
    return -10.0 * math.log10(mse)


def hole_l1(original: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute error over the hole pixels of two uint8 HxWx3 images, in percent of full scale (0..100)."""
    truth, guess = _hole_values(original, filled, mask)
    return 100.0 * float(np.mean(np.abs(truth - guess)))


def detail_ratio(original: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> float:
    """How much detail a fill has: mean Sobel gradient magnitude of the luminance inside the hole, fill's / original's.

    1.0 is as much detail as the truth; a blur scores far below 1. NaN when the original is flat there.
    """
    hole = np.asarray(mask) > 0
    truth, guess = sobel_magnitude(original)[hole].mean(), sobel_magnitude(filled)[hole].mean()
    return float(guess / truth) if truth > 0 else math.nan


def sobel_magnitude(image: np.ndarray) -> np.ndarray:
    """The Sobel gradient magnitude of a uint8 HxWx3 image's luminance (Rec. 601), HxW, edges replicated."""
    luminance = np.pad(image[..., :3].astype(np.float32) @ np.float32([0.299, 0.587, 0.114]), 1, mode="edge")
    smooth_rows = luminance[:-2] + 2 * luminance[1:-1] + luminance[2:]
    smooth_columns = luminance[:, :-2] + 2 * luminance[:, 1:-1] + luminance[:, 2:]
    gradient_x = smooth_rows[:, 2:] - smooth_rows[:, :-2]
    gradient_y = smooth_columns[2:] - smooth_columns[:-2]
    return np.hypot(gradient_x, gradient_y)


def box_ssims(original: np.ndarray, results: Sequence[np.ndarray], box: Box) -> list[float]:
    """SSIM (max_val 1) of each uint8 HxWx3 result against original, over the box's pixels."""
    rows, columns = box.slices
    return [ssim(original[rows, columns], result[rows, columns]) for result in results]


def ssim(truth: np.ndarray, guess: np.ndarray) -> float:
    """SSIM (Wang et al. 2004, as tf.image.ssim: 11 px Gaussian windows of sigma 1.5 inside the image, or the
    image's side when smaller; K1 0.01, K2 0.03) of two uint8 HxWxC images, averaged over windows and channels.

    In float64 with OpenCV: TensorFlow's float32 SSIM gave 1.00002 for a fill one level off (rounding).
    """
    import cv2

    size = min(11, *truth.shape[:2])
    taps = cv2.getGaussianKernel(size, 1.5, cv2.CV_64F)
    inside = (
        slice(size // 2, size // 2 + truth.shape[0] - size + 1),
        slice(size // 2, size // 2 + truth.shape[1] - size + 1),
    )

    def window_mean(values: np.ndarray) -> np.ndarray:
        return np.atleast_3d(cv2.sepFilter2D(values, cv2.CV_64F, taps, taps))[inside]

    x, y = truth.astype(np.float64) / 255.0, guess.astype(np.float64) / 255.0
    mean_x, mean_y = window_mean(x), window_mean(y)
    var_x, var_y = window_mean(x * x) - mean_x**2, window_mean(y * y) - mean_y**2
    covariance = window_mean(x * y) - mean_x * mean_y
    c1, c2 = 0.01**2, 0.03**2
    luminance = (2 * mean_x * mean_y + c1) / (mean_x**2 + mean_y**2 + c1)
    structure = (2 * covariance + c2) / (var_x + var_y + c2)
    return float(np.mean(luminance * structure))


def box_ssim(original: np.ndarray, filled: np.ndarray, box: Box) -> float:
    """SSIM (max_val 1) of a uint8 HxWx3 fill against original, over the box's pixels."""
    return box_ssims(original, [filled], box)[0]


# --- baselines: classical fills chosen by name -------------------------------------------------------

_NEEDS = {
    "shiftmap": ("cv2", "OpenCV-contrib"),
    "fsr": ("cv2", "OpenCV-contrib"),
    "telea": ("cv2", "OpenCV"),
    "ns": ("cv2", "OpenCV"),
    "biharmonic": ("skimage.restoration", "scikit-image"),
}


def _module_for(method: str) -> ModuleType:
    """The optional package a baseline needs, or an InpaintError that says how to install it."""
    module, package = _NEEDS[method]
    try:
        found = importlib.import_module(module)
    except ImportError:
        found = None
    if found is None or (package == "OpenCV-contrib" and not hasattr(found, "xphoto")):
        raise InpaintError(f"the {method} baseline needs {package}: pip install 'inpaint[eval]'") from None
    return found


def _xphoto_fill(method: str, flag: str, holed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A fill of OpenCV-contrib's xphoto.inpaint, whose mask marks the known pixels (non-zero)."""
    cv2 = _module_for(method)
    hole = mask > 0
    filled = np.zeros_like(holed)
    cv2.xphoto.inpaint(holed, (~hole).astype(np.uint8) * 255, filled, getattr(cv2.xphoto, flag))
    result = holed.copy()
    result[hole] = filled[hole]  # shift-map also smooths a seam of known pixels around the hole
    return result


def shift_map_fill(holed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV-contrib's shift-map fill (He and Sun 2012): whole pieces of the photo copied into the hole."""
    return _xphoto_fill("shiftmap", "INPAINT_SHIFTMAP", holed, mask)


def fsr_fill(holed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV-contrib's frequency-selective reconstruction, fast variant (Seiler et al. 2015)."""
    return _xphoto_fill("fsr", "INPAINT_FSR_FAST", holed, mask)


def telea_fill(holed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV's fast-marching fill (Telea 2004)."""
    cv2 = _module_for("telea")
    return cv2.inpaint(holed, (mask > 0).astype(np.uint8) * 255, INPAINT_RADIUS, cv2.INPAINT_TELEA)


def navier_stokes_fill(holed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV's Navier-Stokes fill (Bertalmio et al. 2001)."""
    cv2 = _module_for("ns")
    return cv2.inpaint(holed, (mask > 0).astype(np.uint8) * 255, INPAINT_RADIUS, cv2.INPAINT_NS)


def biharmonic_fill(holed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """scikit-image's biharmonic fill; its float result is rounded back to 8 bits."""
    restoration = _module_for("biharmonic")
    filled = restoration.inpaint_biharmonic(holed, mask > 0, channel_axis=-1)
    return (np.clip(filled, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def mean_fill(holed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Every hole pixel gets the mean colour of the known pixels."""
    hole = mask > 0
    filled = holed.copy()
    filled[hole] = holed[~hole].astype(np.float64).mean(axis=0).round().astype(np.uint8)
    return filled


BASELINES: dict[str, Fill] = {
    "shiftmap": shift_map_fill,
    "fsr": fsr_fill,
    "telea": telea_fill,
    "ns": navier_stokes_fill,
    "biharmonic": biharmonic_fill,
    "mean": mean_fill,
}


def parse_baselines(text: str) -> list[str]:
    """Baseline names from a comma list (duplicates dropped), checked to be known and installed.

    An empty list is allowed: only the model is scored.
    """
    names = list(dict.fromkeys(name.strip().lower() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in BASELINES]
    if unknown:
        raise UsageError(f"unknown baseline {unknown[0]!r}; choose from {', '.join(BASELINES)}")
    for name in names:
        if name in _NEEDS:
            _module_for(name)
    return names


def model_fill(predictor: Predictor, options: filling.FillOptions = filling.FillOptions()) -> Fill:  # noqa: B008
    """The model through the real fill path (filling.fill_image)."""

    def fill(holed: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return filling.fill_image(holed, mask > 0, options, predictor)

    return fill


# --- the protocol -----------------------------------------------------------------------------------


def hole_range(size: int) -> tuple[int, int]:
    """Smallest and largest hole side for a size x size model: 16..48 px at 128, scaled."""
    return max(1, round(16 * size / 128)), max(1, round(48 * size / 128))


@dataclass(frozen=True)
class Sample:
    """One photo of the protocol: its square pixels (uint8 SxSx3) and its hole."""

    path: Path
    original: np.ndarray
    box: Box

    @property
    def mask(self) -> np.ndarray:
        """uint8 SxS, 1 = hole."""
        size = self.original.shape[0]
        return masking.draw_boxes([self.box], size, size).astype(np.uint8)

    @property
    def holed(self) -> np.ndarray:
        """The photo with the hole's pixels set to black."""
        return self.original * (1 - self.mask)[..., None]


def holed_samples(paths: Iterable[Path], size: int, seed: int) -> Iterator[tuple[Path, Sample | str]]:
    """For each path in order, its Sample, or the reason it could not be read.

    One hole is drawn per path, readable or not, so an unreadable file does not
    move the holes of the photos after it.
    """
    rng = np.random.default_rng(seed)
    hole_min, hole_max = hole_range(size)
    for path in paths:
        box = masking.random_box(rng, size, hole_min, hole_max)
        try:
            yield path, Sample(path, training_photos.square_resize(training_photos.read_rgb(path), size), box)
        except InpaintError as error:
            yield path, str(error)


# --- a run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """One method's means over the photos."""

    name: str
    psnr_db: float
    l1_percent: float
    ssim: float
    detail: float  # mean detail_ratio over the photos
    ms_per_photo: float


@dataclass(frozen=True)
class Protocol:
    """What the figures were measured on; equal protocols give comparable figures."""

    photo_dir: str
    model: str
    seed: int
    size: int
    hole_min: int
    hole_max: int
    photos: int
    skipped: list[str]


@dataclass
class Evaluation:
    """The result of run_evaluation: scores (the model first) and the protocol."""

    protocol: Protocol
    scores: list[Score]
    sheet_rows: list[list[np.ndarray]] = field(default_factory=list, repr=False)  # holed | methods | original

    @property
    def best_baseline(self) -> Score | None:
        baselines = [score for score in self.scores if score.name != MODEL_NAME]
        return max(baselines, key=lambda score: score.psnr_db) if baselines else None

    def gain_db(self, score: Score) -> float | None:
        """How many dB a method's PSNR lies above the best baseline's (None without baselines)."""
        best = self.best_baseline
        return None if best is None else score.psnr_db - best.psnr_db

    def table_rows(self) -> list[tuple[str, ...]]:
        """The scores as text, one row per method in TABLE_COLUMNS order."""
        rows = []
        for score in self.scores:
            gain = self.gain_db(score)
            rows.append(
                (
                    score.name,
                    f"{score.psnr_db:.2f}",
                    "" if gain is None else f"{gain:+.2f}",
                    f"{score.l1_percent:.2f}",
                    f"{score.ssim:.3f}",
                    f"{score.detail:.2f}",
                    f"{score.ms_per_photo:.1f}",
                )
            )
        return rows

    def as_dict(self) -> dict[str, object]:
        """The figures and the protocol, ready for JSON."""
        best = self.best_baseline
        return {
            "inpaint_version": __version__,
            "protocol": asdict(self.protocol),
            "methods": [{**asdict(score), "gain_db": self.gain_db(score)} for score in self.scores],
            "best_baseline": best.name if best else None,
            "model_gain_db": self.gain_db(self.scores[0]),
        }


def run_evaluation(
    photo_dir: Path,
    model: Predictor | Path | str | None,
    baselines: Sequence[str] = tuple(DEFAULT_BASELINES.split(",")),
    seed: int = EVALUATION_SEED,
    limit: int | None = None,
    on_photo: EvaluationProgress | None = None,
    options: filling.FillOptions = filling.FillOptions(),  # noqa: B008 - frozen, so one shared default is safe
    photos: list[Path] | None = None,
) -> Evaluation:
    """Fill the protocol's holes in the photos of photo_dir with the model and each baseline, and score them.

    model is a loaded model, or a path to load once the photos and baselines are
    checked (None: the bundled model). limit keeps the first photos in file-name order.
    options are the model's fill settings (FillOptions(texture=False): `--smooth`).
    photos: images.find_images([photo_dir]), when the caller has it already (`evaluate` checks its outputs
    against them): a large folder, or one on a network share, is then walked once.
    """
    if limit is not None and limit < 1:
        raise UsageError(f"the number of photos must be at least 1, not {limit}")
    if not photo_dir.is_dir():
        raise UsageError(f"{photo_dir} is not a folder of photos")
    names = parse_baselines(",".join(baselines))
    paths = (images.find_images([photo_dir]) if photos is None else photos)[:limit]
    if not paths:
        raise UsageError(f"no photos in {photo_dir} (looked for {', '.join(sorted(images.IMAGE_SUFFIXES))})")
    if not isinstance(model, Predictor):
        model = runtime.load_predictor(model)
    fills = {MODEL_NAME: model_fill(model, options), **{name: BASELINES[name] for name in names}}

    per_photo: dict[str, list[tuple[float, ...]]] = {name: [] for name in fills}
    sheet_rows: list[list[np.ndarray]] = []
    skipped: list[str] = []
    for done, (path, sample) in enumerate(holed_samples(paths, model.input_size, seed), start=1):
        if isinstance(sample, str):
            skipped.append(sample)
        else:
            if not sheet_rows:
                _warm_up(fills, sample)
            results = _fill_all(fills, sample)
            for name, figures in _score(sample, results).items():
                per_photo[name].append(figures)
            if len(sheet_rows) < SHEET_PHOTOS:
                sheet_rows.append([sample.holed, *(filled for filled, _ in results.values()), sample.original])
        if on_photo is not None:
            on_photo(done, len(paths), path, sample if isinstance(sample, str) else None)
    if len(skipped) == len(paths):
        raise InpaintError(f"none of the {len(paths)} photos in {photo_dir} could be read")

    scores = []
    for name, values in per_photo.items():
        psnr, l1, ssim, detail, seconds = np.nanmean(np.asarray(values), axis=0)
        scores.append(Score(name, float(psnr), float(l1), float(ssim), float(detail), 1000.0 * float(seconds)))
    hole_min, hole_max = hole_range(model.input_size)
    protocol = Protocol(
        str(photo_dir), str(model.path), seed, model.input_size, hole_min, hole_max, len(paths) - len(skipped), skipped
    )
    return Evaluation(protocol, scores, sheet_rows)


def evaluate(
    photo_dir: Path,
    model: Predictor | Path | str | None = None,
    baselines: str = DEFAULT_BASELINES,
    seed: int = EVALUATION_SEED,
    limit: int | None = None,
    options: filling.FillOptions = filling.FillOptions(),  # noqa: B008 - frozen, so one shared default is safe
    json_path: Path | None = None,
    sheet: Path | None = None,
    on_photo: EvaluationProgress | None = None,
    force: bool = False,
) -> Evaluation:
    """`inpaint evaluate` in one call: check the baselines (a comma list) and outputs, run, write what was asked.

    force: replace an existing --json or --sheet file (never one of the photos evaluated).
    """
    names = parse_baselines(baselines)
    photos = images.find_images([photo_dir]) if photo_dir.is_dir() else []
    check_outputs(json_path, sheet, photos, force)
    result = run_evaluation(
        photo_dir, model, names, seed=seed, limit=limit, on_photo=on_photo, options=options, photos=photos
    )
    if json_path:
        write_json(result, json_path)
    if sheet:
        write_sheet(result, sheet)
    return result


def _fill_all(fills: dict[str, Fill], sample: Sample) -> dict[str, tuple[np.ndarray, float]]:
    """Each method's 8-bit result (only hole pixels may differ from the photo) and its wall time in seconds."""
    holed, mask = sample.holed, sample.mask
    hole = mask > 0
    results = {}
    for name, fill in fills.items():
        start = time.perf_counter()
        filled = fill(holed.copy(), mask)
        seconds = time.perf_counter() - start
        result = sample.original.copy()
        result[hole] = filled[hole]
        results[name] = (result, seconds)
    return results


def _warm_up(fills: dict[str, Fill], sample: Sample) -> None:
    """Run every method once untimed, so one-off costs (imports, graph set-up) stay out of ms per photo."""
    for fill in fills.values():
        fill(sample.holed, sample.mask)


def _score(sample: Sample, results: dict[str, tuple[np.ndarray, float]]) -> dict[str, tuple[float, ...]]:
    """Each method's (PSNR dB, L1 %, SSIM, detail, seconds) on one sample."""
    original, mask = sample.original, sample.mask
    ssims = box_ssims(original, [filled for filled, _ in results.values()], sample.box)
    return {
        name: (
            hole_psnr(original, filled, mask),
            hole_l1(original, filled, mask),
            ssim,
            detail_ratio(original, filled, mask),
            seconds,
        )
        for (name, (filled, seconds)), ssim in zip(results.items(), ssims, strict=True)
    }


# --- outputs ----------------------------------------------------------------------------------------


def check_outputs(json_path: Path | None, sheet: Path | None, photos: list[Path], force: bool = False) -> None:
    """Refuse, before a long run, outputs that would land on a photo being evaluated, on each other, on a folder,
    in a missing folder, or on an existing file without force; and a sheet without an image suffix.
    """
    if json_path is not None and sheet is not None and json_path.resolve() == sheet.resolve():
        raise UsageError(f"--json and --sheet both name {json_path}; give two files")
    inputs = {photo.resolve() for photo in photos}
    for option, path in (("--json", json_path), ("--sheet", sheet)):
        if path is not None:
            new_outputs.check_new_output(option, path, inputs, force, image=option == "--sheet")


def write_json(evaluation: Evaluation, path: Path) -> None:
    """Write the figures and the protocol to path atomically."""
    text = json.dumps(evaluation.as_dict(), indent=2) + "\n"
    atomic_files.write_atomically(path, lambda temporary: temporary.write_text(text))


def write_sheet(evaluation: Evaluation, path: Path, gap: int = 2) -> None:
    """An image grid (in the format path's suffix names), one row per photo (the first SHEET_PHOTOS): holed | each
    method | original, labelled on top."""
    from PIL import Image, ImageDraw

    if not evaluation.sheet_rows:
        raise InpaintError("there are no filled photos to draw")
    labels = ["holed", *(score.name for score in evaluation.scores), "original"]
    size = evaluation.protocol.size
    header = []
    for label in labels:
        tile = Image.new("RGB", (size, 14), "white")
        ImageDraw.Draw(tile).text((2, 1), label, fill="black")  # clipped to its own tile
        header.append(np.asarray(tile))
    rows = [header, *evaluation.sheet_rows]
    height = sum(row[0].shape[0] for row in rows) + gap * (len(rows) + 1)
    width = len(labels) * (size + gap) + gap
    sheet = np.full((height, width, 3), 255, np.uint8)
    top = gap
    for row in rows:
        for column, tile in enumerate(row):
            left = gap + column * (size + gap)
            sheet[top : top + tile.shape[0], left : left + size] = tile
        top += row[0].shape[0] + gap
    image_format = new_outputs.image_format(path) or "PNG"
    atomic_files.write_atomically(path, lambda temporary: Image.fromarray(sheet).save(temporary, format=image_format))
