"""Issue 14: faithful to every file and every folder. One test (or a few) per numbered item.

They fill with the bundled model (LiteRT, no TensorFlow), so they stay quick. Item 5 (16-bit) is in
test_sixteen_bit.py.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import landscape, small_prepare_args
from PIL import Image
from typer.testing import CliRunner

from inpaint_cli.cli import app
from inpaint_cli.files import atomic_files, images
from inpaint_cli.inpainting import masking, rectangles
from inpaint_cli.inpainting.rectangles import Box

runner = CliRunner()


def fill(*arguments: str | Path) -> object:
    return runner.invoke(app, ["fill", *map(str, arguments)])


def lines(result: object) -> list[str]:
    return result.output.strip().splitlines()


def save(path: Path, height: int = 40, width: int = 48, seed: int = 0, **options: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(landscape(height, width, seed)).save(path, **options)
    return path


# --- 7: --compare ---------------------------------------------------------------------------------


def test_compare_refuses_the_output_path_and_writes_the_format_its_suffix_names(tmp_path: Path) -> None:
    photo = save(tmp_path / "photo.png")
    same = fill(photo, "--box", "4,4,10", "--out", tmp_path / "a.png", "--compare", tmp_path / "a.png")
    assert same.exit_code == 2
    assert lines(same) == [
        f"Error: the comparison picture {tmp_path / 'a.png'} is the output photo too; give it another name"
    ]
    assert not (tmp_path / "a.png").exists()
    unknown = fill(photo, "--box", "4,4,10", "--out", tmp_path / "b.png", "--compare", tmp_path / "x.xyz")
    assert unknown.exit_code == 2 and "cannot write the comparison picture x.xyz" in unknown.output
    assert not (tmp_path / "b.png").exists() and not (tmp_path / "x.xyz").exists()
    result = fill(photo, "--box", "4,4,10", "--out", tmp_path / "b.png", "--compare", tmp_path / "x.jpg")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "x.jpg") as picture:
        assert picture.format == "JPEG"


# --- 10, 11: folder runs ------------------------------------------------------------------------


def test_every_error_of_a_folder_run_names_its_photo_and_the_summary_is_true(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    save(folder / "one.png")
    # A folder of one photo: its error used to be dropped, leaving only "1 of 1 photos failed".
    result = fill(folder, "--box", "40,30,20", "--out-dir", tmp_path / "out")
    assert result.exit_code == 1
    assert lines(result) == [
        f"Error: {folder / 'one.png'}: box 40,30,20 lies outside one.png (48x40)",
        "Error: all 1 photos failed; nothing was written",
    ]
    save(folder / "sub" / "two.png", seed=1)
    # An output sub-folder that cannot be created fails its own photos, in one line naming them.
    (tmp_path / "out" / "sub").write_bytes(b"a file where the folder should be")
    result = fill(folder, "--box", "4,4,10", "--out-dir", tmp_path / "out")
    assert result.exit_code == 1
    assert lines(result) == [
        f"Filled {folder / 'one.png'} -> {tmp_path / 'out' / 'one.filled.png'}",
        f"Error: {folder / 'sub' / 'two.png'}: cannot create the output folder {tmp_path / 'out' / 'sub'} "
        "(File exists)",
        "Error: 1 of 2 photos failed; 1 written",
    ]
    # An output folder that cannot be created at all is one line, not a raw PermissionError.
    result = fill(folder, "--box", "4,4,10", "--out-dir", tmp_path / "out" / "sub" / "deeper")
    assert result.exit_code == 1
    assert lines(result) == [
        f"Error: cannot create the output folder {tmp_path / 'out' / 'sub' / 'deeper'} (Not a directory)"
    ]

    # A folder that cannot be written in names the photo.
    def no_temporary_files(*arguments: object, **options: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic_files.tempfile, "mkstemp", no_temporary_files)
    result = fill(folder, "--box", "4,4,10", "--out-dir", tmp_path / "ro")
    assert result.exit_code == 1
    assert lines(result) == [
        f"Error: {folder / 'one.png'}: cannot write in {tmp_path / 'ro'} (Permission denied)",
        f"Error: {folder / 'sub' / 'two.png'}: cannot write in {tmp_path / 'ro' / 'sub'} (Permission denied)",
        "Error: all 2 photos failed; nothing was written",
    ]


def test_skip_existing_leaves_finished_outputs_alone_and_a_photo_given_twice_is_filled_once(tmp_path: Path) -> None:
    folder, out = tmp_path / "photos", tmp_path / "out"
    for index in range(3):
        save(folder / f"photo{index}.png", seed=index)
    out.mkdir()
    (out / "photo0.filled.png").write_bytes(b"written before Ctrl-C")
    result = fill(folder, folder / "photo1.png", folder, "--box", "4,4,10", "--out-dir", out, "--skip-existing")
    assert result.exit_code == 0, result.output
    assert lines(result) == [
        f"Skipped {folder / 'photo0.png'}: {out / 'photo0.filled.png'} already exists (--skip-existing)",
        f"Filled {folder / 'photo1.png'} -> {out / 'photo1.filled.png'}",
        f"Filled {folder / 'photo2.png'} -> {out / 'photo2.filled.png'}",
        "Done: 2 written, 1 skipped.",
    ]
    result = fill(folder, "--box", "4,4,10", "--out-dir", out)  # without it, each is refused and the hint given
    assert result.exit_code == 1
    assert (
        f"Error: {folder / 'photo0.png'}: {out / 'photo0.filled.png'} already exists; use --force to replace it "
        "(or --skip-existing to keep it)" in lines(result)
    )
    assert (out / "photo0.filled.png").read_bytes() == b"written before Ctrl-C"
    assert fill(folder, "--box", "4,4,10", "--out-dir", out, "--skip-existing", "--force").exit_code == 2


# --- 12, 13: opaque alpha to JPEG, --out naming a folder ----------------------------------------------


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_an_opaque_alpha_channel_is_dropped_for_jpeg(tmp_path: Path, mode: str) -> None:
    photo = tmp_path / "opaque.png"
    Image.fromarray(landscape(40, 48, seed=2)).convert(mode).save(photo)
    result = fill(photo, "--box", "4,4,10", "--out", tmp_path / "opaque.jpg")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "opaque.jpg") as written:
        assert written.mode == ("RGB" if mode == "RGBA" else "L")


def test_out_naming_an_existing_folder_says_so_the_first_time(tmp_path: Path) -> None:
    photo = save(tmp_path / "photo.png")
    (tmp_path / "folder").mkdir()
    for force in ([], ["--force"]):
        result = fill(photo, "--box", "4,4,10", "--out", tmp_path / "folder", *force)
        assert result.exit_code == 2
        assert lines(result) == [
            f"Error: output {tmp_path / 'folder'} is a folder; name a file in it, or give it as the output folder"
        ]


# --- 14: the pixel limit ---------------------------------------------------------------------------


def test_the_pixel_limit_is_named_and_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 10000)).save(bomb)  # 200 megapixels in a few kilobytes: over twice Pillow's limit
    result = fill(bomb, "--box", "1,1,8")
    assert result.exit_code == 1
    assert lines(result) == [
        f"Error: {bomb} has 20000x10000 = 200,000,000 pixels, over the limit of 89,478,485 (a guard against "
        "decompression bombs); raise it with INPAINT_MAX_PIXELS=200000000 or --max-pixels 200000000"
    ]
    # Raised, the header opens (Pillow's own check would refuse it); nothing is decoded here.
    images._opened(bomb, max_pixels=200_000_000).close()
    monkeypatch.setenv("INPAINT_MAX_PIXELS", "200000000")
    images._opened(bomb).close()
    assert images.max_pixels_allowed() == 200_000_000
    monkeypatch.setenv("INPAINT_MAX_PIXELS", "100")
    photo = save(tmp_path / "photo.png")
    result = fill(photo, "--box", "1,1,8")
    assert result.exit_code == 1 and "over the limit of 100 " in result.output
    assert fill(photo, "--box", "1,1,8", "--max-pixels", "2000").exit_code == 0
    assert fill(photo, "--box", "1,1,8", "--max-pixels", "0", "--force").exit_code == 2


# --- 15: --val-fraction 0 ------------------------------------------------------------------------


def test_prepare_refuses_no_validation_up_front(photo_folder: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["prepare", str(photo_folder), "--out", str(tmp_path / "data"), "--val-fraction", "0"])
    assert result.exit_code == 2
    assert lines(result) == [
        "Error: the validation share 0 must be above 0 and below 1: `inpaint train` picks its best epoch on the "
        "validation samples"
    ]
    assert not (tmp_path / "data").exists()


# --- 16: small things ----------------------------------------------------------------------------


def test_a_folder_fill_off_a_terminal_prints_no_blank_line(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    save(folder / "a.png")
    save(folder / "b.png", seed=1)
    command = [sys.executable, "-m", "inpaint_cli.cli", "fill", str(folder), "--box", "4,4,10", "--out-dir"]
    result = subprocess.run([*command, str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        f"Filled {folder / 'a.png'} -> {tmp_path / 'out' / 'a.filled.png'}",
        f"Filled {folder / 'b.png'} -> {tmp_path / 'out' / 'b.filled.png'}",
        "Done: 2 written.",
    ]


def test_negative_box_numbers_are_called_negative() -> None:
    with pytest.raises(masking.UsageError, match="box '-1,0,10' has a negative number"):
        rectangles.parse_box("-1,0,10")


def test_quality_says_when_it_does_not_apply(tmp_path: Path) -> None:
    photo = save(tmp_path / "photo.png")
    result = fill(photo, "--box", "4,4,10", "--quality", "50")
    assert result.exit_code == 0
    assert "Warning: --quality applies to JPEG and WebP only; photo.filled.png is written without loss" in lines(result)


@pytest.mark.slow
def test_the_model_card_and_history_count_epochs_from_one_as_the_console_does(
    photo_folder: Path, tmp_path: Path
) -> None:
    assert runner.invoke(app, small_prepare_args(photo_folder, tmp_path / "ds")).exit_code == 0
    model = tmp_path / "model"
    arguments = ["train", tmp_path / "ds", "--out", model, "--epochs", "2", "--width", "4", "--batch-size", "4"]
    result = runner.invoke(app, [*map(str, arguments), "--learning-rate", "0.003"])
    assert result.exit_code == 0, result.output
    printed = dict(re.findall(r"^epoch +(\d+)/2 .* val hole PSNR (\S+) dB$", result.output, re.MULTILINE))
    assert list(printed) == ["1", "2"]
    best = re.search(r"Best validation hole PSNR (\S+) dB \(epoch (\d+)\)", result.output)
    assert best is not None and printed[best[2]] == best[1]
    card = json.loads((model / "model.json").read_text())
    assert card["best"]["epoch"] == int(best[2]) >= 1
    with (model / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert float(rows[int(best[2]) - 1]["val_hole_psnr"]) == card["best"]["val_hole_psnr"]


def test_a_command_whose_reader_goes_away_goes_on_and_exits_normally() -> None:
    script = (
        "from inpaint_cli.cli import console\n"
        "for line in range(20000): console().print(f'epoch {line} ' + 'x' * 60)\n"
        "import sys; sys.stderr.write('went on')\n"
    )
    command = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert command.stdout.read(10) == b"epoch 0 xx"
    command.stdout.close()
    assert command.wait(timeout=60) == 0
    assert command.stderr.read().decode().strip() == "went on"


def test_stroke_fraction_default_shows_as_a_third() -> None:
    result = runner.invoke(app, ["train", "--help"], terminal_width=200)
    assert "1/3" in result.output and "0.333" not in result.output


def test_overlapping_mask_pixels_stay_bit_exact_outside(tmp_path: Path) -> None:
    """A guard for everything above: a PNG's pixels outside the hole are kept exactly."""
    photo = save(tmp_path / "photo.png", 64, 80)
    assert fill(photo, "--box", "10,10,20").exit_code == 0
    before, after = np.asarray(Image.open(photo)), np.asarray(Image.open(tmp_path / "photo.filled.png"))
    hole = masking.draw_boxes([Box(10, 10, 20)], 64, 80) > 0
    assert np.array_equal(before[~hole], after[~hole])


# --- 2, 3: masks --------------------------------------------------------------------------------


def test_masks_are_matched_by_relative_path_and_a_photo_without_one_is_skipped(tmp_path: Path) -> None:
    photos, masks, out = tmp_path / "A", tmp_path / "masks", tmp_path / "out"
    for folder, seed in (("s1", 1), ("s2", 2), ("s3", 3)):
        save(photos / folder / "x.bmp", seed=seed)
    box = {"s1": (4, 4), "s2": (24, 20)}
    for folder, (x, y) in box.items():
        mask = np.zeros((40, 48), np.uint8)
        mask[y : y + 10, x : x + 10] = 255
        (masks / folder).mkdir(parents=True)
        Image.fromarray(mask).save(masks / folder / "x.png")
    result = fill(photos, "--mask-dir", masks, "--out-dir", out)
    assert result.exit_code == 0, result.output
    assert f"Skipped {photos / 's3' / 'x.bmp'}: no mask for it in {masks} (looked for {masks / 's3' / 'x'}.*)" in (
        lines(result)
    )
    assert not (out / "s3" / "x.filled.bmp").exists()
    (tmp_path / "none").mkdir()
    alone = fill(photos / "s3" / "x.bmp", "--mask-dir", tmp_path / "none", "--out-dir", out)  # one photo, unfilled
    assert alone.exit_code == 1 and lines(alone) == [
        f"Error: {photos / 's3' / 'x.bmp'} was not filled: no mask for it in {tmp_path / 'none'} (looked for "
        f"{tmp_path / 'none' / 'x'}.*)"
    ]
    for folder, (x, y) in box.items():
        before = np.asarray(Image.open(photos / folder / "x.bmp"))
        after = np.asarray(Image.open(out / folder / "x.filled.bmp"))
        changed = np.argwhere((before != after).any(-1))
        assert changed.min(0).tolist() >= [y, x] and changed.max(0).tolist() <= [y + 9, x + 9], folder
    Image.new("L", (48, 40)).save(masks / "s1" / "x.jpg")
    result = fill(photos, "--mask-dir", masks, "--out-dir", out, "--force")
    assert result.exit_code == 2
    assert lines(result) == [
        f"Error: {masks / 's1' / 'x.jpg'} and {masks / 's1' / 'x.png'} both match {photos / 's1' / 'x.bmp'}; "
        "keep one mask per photo"
    ]


def test_a_mask_must_have_the_photos_shape_as_displayed_or_as_stored(tmp_path: Path) -> None:
    photo = tmp_path / "portrait.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 80 wide x 50 high, displayed 50 wide x 80 high
    save(photo, 50, 80, exif=exif.tobytes(), quality=95)
    displayed = np.zeros((80, 50), np.uint8)
    displayed[60:75, 5:20] = 255  # near the bottom left of the portrait as displayed
    Image.fromarray(displayed).save(tmp_path / "displayed.png")
    # The same hole drawn on the stored pixels: the stored image turned by orientation 6 is the displayed one.
    Image.fromarray(displayed).transpose(images.STORED[6]).save(tmp_path / "stored.png")
    Image.fromarray(displayed).resize((100, 160), Image.Resampling.NEAREST).save(tmp_path / "twice.png")
    Image.fromarray(displayed[:50]).save(tmp_path / "other.png")
    notes: list[str] = []
    expected = displayed > 127
    for name in ("displayed", "stored", "twice"):
        hole = masking.read_mask(tmp_path / f"{name}.png", 50, 80, orientation=6, on_note=notes.append) > 0
        assert np.array_equal(hole, expected), name
    assert notes == ["mask twice.png (100x160) was scaled to the photo's 50x80"]
    result = fill(photo, "--mask", tmp_path / "other.png")
    assert result.exit_code == 2
    assert lines(result) == [
        "Error: mask other.png is 50x50 but the photo is 50x80 (stored as 80x50); a mask must have the photo's shape"
    ]


# --- 4, 6, 8, 9: what each file keeps -------------------------------------------------------------


def outside_changes(before: Path, after: Path, box: Box) -> float:
    """Share of the pixels outside box that differ between two photos, both turned upright."""
    from PIL import ImageOps

    first = np.asarray(ImageOps.exif_transpose(Image.open(before)).convert("RGB")).astype(int)
    second = np.asarray(ImageOps.exif_transpose(Image.open(after)).convert("RGB")).astype(int)
    hole = masking.draw_boxes([box], *first.shape[:2]) > 0
    return float((first != second).any(-1)[~hole].mean())


def webp_chunk(path: Path) -> bytes:
    return path.read_bytes()[12:16]


def test_a_lossless_webp_stays_lossless_and_a_lossy_one_gets_a_high_quality(tmp_path: Path) -> None:
    lossless = save(tmp_path / "lossless.webp", 96, 128, lossless=True)
    lossy = save(tmp_path / "lossy.webp", 96, 128, quality=90)
    assert (webp_chunk(lossless), webp_chunk(lossy)) == (b"VP8L", b"VP8 ")
    box = Box(30, 30, 20)
    for photo in (lossless, lossy):
        assert fill(photo, "--box", str(box)).exit_code == 0
    assert webp_chunk(tmp_path / "lossless.filled.webp") == b"VP8L"
    assert outside_changes(lossless, tmp_path / "lossless.filled.webp", box) == 0
    assert webp_chunk(tmp_path / "lossy.filled.webp") == b"VP8 "
    # A PNG written as WebP is lossless too; --quality asks for lossy.
    png = save(tmp_path / "photo.png", 96, 128)
    assert fill(png, "--box", str(box), "--out", tmp_path / "png.webp").exit_code == 0
    assert webp_chunk(tmp_path / "png.webp") == b"VP8L"
    assert fill(png, "--box", str(box), "--out", tmp_path / "small.webp", "--quality", "60").exit_code == 0
    assert webp_chunk(tmp_path / "small.webp") == b"VP8 "


def test_palette_transparency_becomes_rgba_and_one_bit_becomes_gray(tmp_path: Path) -> None:
    pixels = np.dstack([landscape(40, 48, seed=1), np.full((40, 48), 255, np.uint8)])
    pixels[:5, :5, 3] = 0
    palette = Image.fromarray(pixels).quantize(64)  # RGBA quantized: a palette with a transparent entry
    palette.save(tmp_path / "palette.png")
    Image.fromarray(landscape(40, 48, seed=2)).convert("1").save(tmp_path / "bits.png")
    Image.fromarray(landscape(40, 48, seed=3)).convert("P").save(tmp_path / "opaque_palette.png")
    with Image.open(tmp_path / "palette.png") as source:
        assert source.mode == "P" and "transparency" in source.info
        alpha = np.asarray(source.convert("RGBA"))[..., 3]
    assert fill(tmp_path / "palette.png", "--box", "20,20,10").exit_code == 0
    with Image.open(tmp_path / "palette.filled.png") as written:
        assert written.mode == "RGBA"
        assert np.array_equal(np.asarray(written)[..., 3], alpha)
    assert fill(tmp_path / "bits.png", "--box", "20,20,10").exit_code == 0
    with Image.open(tmp_path / "bits.filled.png") as written:
        assert written.mode == "L"
    result = fill(tmp_path / "opaque_palette.png", "--box", "20,20,10")
    assert result.exit_code == 0
    assert lines(result)[0] == "Warning: its palette (P) pixels are written as RGB"


def test_xmp_png_text_and_the_progressive_flag_are_kept(tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><xmp:Rating>5</xmp:Rating></rdf:RDF></x:xmpmeta>'
    jpeg = save(tmp_path / "photo.jpg", 64, 80, xmp=xmp, progressive=True, quality=90)
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Picos")
    info.add_itxt("Comment", "Café ☕")
    Image.fromarray(landscape(64, 80, seed=1)).save(tmp_path / "photo.png", pnginfo=info)
    assert fill(jpeg, "--box", "10,10,16").exit_code == 0
    assert fill(jpeg, "--box", "10,10,16", "--out", tmp_path / "from_jpeg.png").exit_code == 0
    assert fill(tmp_path / "photo.png", "--box", "10,10,16").exit_code == 0
    with Image.open(tmp_path / "photo.filled.jpg") as written:
        assert written.info["xmp"] == xmp and written.info.get("progressive")
    with Image.open(tmp_path / "from_jpeg.png") as written:
        assert written.info["xmp"] in (xmp, xmp.decode())
    with Image.open(tmp_path / "photo.filled.png") as written:
        assert written.text == {"Title": "Picos", "Comment": "Café ☕"}


@pytest.mark.parametrize("suffix", [".tif", ".gif", ".webp"])
def test_a_multi_frame_file_is_refused_rather_than_cut_to_its_first_frame(tmp_path: Path, suffix: str) -> None:
    photo = tmp_path / f"pages{suffix}"
    frames = [Image.fromarray(landscape(40, 48, seed=seed)) for seed in range(3)]
    frames[0].save(photo, save_all=True, append_images=frames[1:])
    out = tmp_path / f"pages.filled{suffix if suffix != '.gif' else '.png'}"  # inpaint writes no GIF
    result = fill(photo, "--box", "4,4,10", "--out", out)
    assert result.exit_code == 1
    kind = "pages (TIFF)" if suffix == ".tif" else f"frames ({'GIF' if suffix == '.gif' else 'WEBP'})"
    assert lines(result) == [
        f"Error: {photo} has 3 {kind}; inpaint fills single images only and would keep only the first: "
        "save that one as its own file"
    ]
    assert not out.exists()


def test_an_exif_rotated_jpeg_changes_outside_the_hole_no_more_than_an_upright_one(tmp_path: Path) -> None:
    pixels = landscape(192, 256, seed=7)  # as displayed: 256 wide, 192 high
    upright = tmp_path / "upright.jpg"
    Image.fromarray(pixels).save(upright, quality=85)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = tmp_path / "rotated.jpg"
    Image.fromarray(pixels).transpose(images.STORED[6]).save(rotated, quality=85, exif=exif.tobytes())
    box = Box(96, 64, 32)  # on the 16 px block grid both ways
    for photo in (upright, rotated):
        assert fill(photo, "--box", str(box)).exit_code == 0
    with Image.open(tmp_path / "rotated.filled.jpg") as written, Image.open(rotated) as source:
        assert written.getexif()[0x0112] == 6 and written.size == source.size == (192, 256)
    upright_share = outside_changes(upright, tmp_path / "upright.filled.jpg", box)
    rotated_share = outside_changes(rotated, tmp_path / "rotated.filled.jpg", box)
    assert rotated_share <= upright_share + 0.01, (rotated_share, upright_share)


# --- 1: a hole with nothing to fill it from; warnings name the holes the user gave ---------------


def test_a_mask_covering_the_whole_photo_is_an_error_not_a_black_image(tmp_path: Path) -> None:
    photo = save(tmp_path / "photo.png")
    Image.new("L", (48, 40), 255).save(tmp_path / "white.png")
    result = fill(photo, "--mask", tmp_path / "white.png")
    assert result.exit_code == 2
    assert lines(result) == ["Error: the holes cover all of photo.png: no pixel is left to fill them from"]
    assert not (tmp_path / "photo.filled.png").exists()
    with pytest.raises(masking.UsageError, match="covers the whole image"):
        from inpaint_cli.stages import filling

        filling.fill_image(Image.open(photo), np.ones((40, 48), bool))


def warnings_of(result: object) -> list[str]:
    return [line for line in lines(result) if line.startswith("Warning:")]


def test_a_poor_fill_warning_names_the_box_the_user_gave_once(tmp_path: Path) -> None:
    panorama = save(tmp_path / "panorama.png", height=160, width=1000, seed=1)
    # Both boxes are as tall as the panorama: each is filled in layers of many squares, none of them named.
    result = fill(panorama, "--box", "400,0,160", "--box", "700,0,160")
    assert result.exit_code == 0, result.output
    assert [re.sub(r"\d+%", "N%", line) for line in warnings_of(result)] == [
        f"Warning: the hole at {box} covers N% of the context the network sees; expect a poor fill"
        for box in ("400,0,160", "700,0,160")
    ]


def test_a_poor_fill_warning_names_a_masks_hole_by_its_bounding_rectangle(tmp_path: Path) -> None:
    photo = save(tmp_path / "photo.png", height=500, width=800, seed=2)
    mask = np.zeros((500, 800), np.uint8)
    mask[50:450, 100:700] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    result = fill(photo, "--mask", tmp_path / "mask.png")
    assert result.exit_code == 0, result.output
    assert [re.sub(r"\d+%", "N%", line) for line in warnings_of(result)] == [
        "Warning: the hole at 100,50 (600x400) covers N% of the context the network sees; expect a poor fill"
    ]


def test_an_output_format_inpaint_cannot_write_is_refused_before_the_fill_in_one_line(tmp_path: Path) -> None:
    photo = tmp_path / "single.gif"
    Image.fromarray(landscape(40, 48, seed=1)).convert("P").save(photo)
    result = fill(photo, "--box", "4,4,10")
    assert result.exit_code == 2
    assert lines(result) == [
        "Error: cannot write single.filled.gif: use one of .bmp, .jpeg, .jpg, .png, .tif, .tiff, .webp"
    ]
