"""`inpaint serve` end to end in a real browser: headless Chromium (Debian's) driven by Selenium 4.

Open the page, load a generated photo, paint a stroke with mouse events, Fill, download, and check the
pixels. Skipped only where chromium is missing and CI is not set; .ci/run installs it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from browser import (
    brush_width,
    chromium,
    message,
    open_photo,
    paint_stroke,
    require_chromium,
    shown_colour,
    wait_for,
)
from conftest import RunningServer, landscape, start_server
from PIL import Image

from inpaint_cli.files import images

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> RunningServer:
    running = start_server()
    yield running
    running.stop()


def stroke_distance(height: int, width: int, start: tuple[float, float], end: tuple[float, float]) -> np.ndarray:
    """Each pixel centre's distance from the segment start-end, in pixels."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    (x0, y0), (x1, y1) = start, end
    length = max((x1 - x0) ** 2 + (y1 - y0) ** 2, 1e-9)
    t = np.clip(((xx - x0) * (x1 - x0) + (yy - y0) * (y1 - y0)) / length, 0, 1)
    return np.hypot(xx - (x0 + t * (x1 - x0)), yy - (y0 + t * (y1 - y0)))


def fill_and_download(driver: object, target: Path) -> Path:
    """Click Fill, wait for the result, click Download and wait until target is complete."""
    driver.find_element("id", "fill").click()
    wait_for(lambda: message(driver)[1] in {"ok", "error"}, 120, "the fill")
    text, kind = message(driver)
    assert kind == "ok", text
    driver.find_element("id", "download").click()
    wait_for(lambda: target.is_file() and not list(target.parent.glob("*.crdownload")), 30, "the download")
    time.sleep(0.2)
    return target


def test_a_brushed_stroke_is_filled_and_downloaded(server: RunningServer, tmp_path: Path) -> None:
    require_chromium()
    photo = tmp_path / "holiday.png"
    pixels = landscape(360, 480, seed=5)
    Image.fromarray(pixels).save(photo)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = chromium(downloads)
    try:
        open_photo(driver, server.address, photo)
        start, end = (150.0, 170.0), (330.0, 200.0)
        paint_stroke(driver, [start, end])
        width = brush_width(driver)
        target = fill_and_download(driver, downloads / "holiday.filled.png")
    finally:
        driver.quit()
    with Image.open(target) as result:
        assert result.format == "PNG" and result.size == (480, 360)
        filled = np.asarray(result.convert("RGB"))
    distance = stroke_distance(360, 480, start, end)
    outside = distance > width / 2 + 3  # past the brush's edge, antialiasing included
    inside = distance < width / 2 - 3
    assert np.array_equal(filled[outside], pixels[outside])  # PNG: exact outside the stroke
    changed = np.abs(filled.astype(int) - pixels.astype(int)).max(axis=-1) > 0
    assert changed[inside].mean() > 0.8  # the stroke's area was filled
    assert changed[~outside].sum() > 0.9 * inside.sum()


def is_red(rgb: object) -> bool:
    red, green, blue = (int(value) for value in rgb)
    return red > 200 and green < 60 and blue < 60


@pytest.mark.parametrize(
    ("suffix", "orientation", "options"),
    [
        (".jpg", 6, {"quality": 95}),
        (".png", 6, {}),
        (".webp", 6, {"lossless": True}),  # Chromium shows a WebP unturned; the server turns it (issue 21, item 5)
        (".webp", 3, {"lossless": True}),  # turned half way: the same size, so only the pixels tell
        (".tif", 3, {}),  # the browser cannot read a TIFF: the server's preview
    ],
)
def test_a_turned_photo_is_shown_upright_and_filled_where_it_was_painted(
    server: RunningServer, tmp_path: Path, suffix: str, orientation: int, options: dict[str, object]
) -> None:
    """EXIF orientation in every format: the page paints on the photo as the server turns it upright."""
    require_chromium()
    photo = tmp_path / f"turned{suffix}"
    exif = Image.Exif()
    exif[0x0112] = orientation
    marked = landscape(240, 320, seed=8)
    marked[5:40, 5:45] = (255, 0, 0)  # a red mark at the top left of the photo as displayed
    Image.fromarray(marked).transpose(images.STORED[orientation]).save(photo, exif=exif.tobytes(), **options)
    upright = np.asarray(images.open_photo(photo).image.convert("RGB"))  # as the server turns it
    assert is_red(upright[22, 25]) and upright.shape == (240, 320, 3)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = chromium(downloads)
    try:
        open_photo(driver, server.address, photo)
        assert "320×240" in driver.find_element("id", "details").text
        assert is_red(shown_colour(driver, (25, 22)))  # the page shows the photo as the server turns it
        assert not is_red(shown_colour(driver, (295, 218)))
        start, end = (60.0, 60.0), (140.0, 90.0)  # in the top left quarter of the photo as displayed
        paint_stroke(driver, [start, end])
        width = brush_width(driver)
        name = photo.stem + ".filled" + suffix
        target = fill_and_download(driver, downloads / name)
    finally:
        driver.quit()
    result = images.open_photo(target)
    assert result.format == Image.open(photo).format and result.image.size == (320, 240)
    filled = np.asarray(result.image.convert("RGB"))
    distance = stroke_distance(240, 320, start, end)
    difference = np.abs(filled.astype(int) - upright.astype(int)).max(axis=-1)
    inside, outside = difference[distance < width / 2 - 3], difference[distance > width / 2 + 8]
    if suffix == ".jpg":  # re-encoded: a little change everywhere, far more where it was painted
        assert outside.mean() < 2 and inside.mean() > 5 * outside.mean()
    else:  # filled where it was painted, and nowhere else
        assert (inside > 0).mean() > 0.5 and not outside.any()


def test_errors_show_as_one_line_on_the_page(server: RunningServer, tmp_path: Path) -> None:
    require_chromium()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    driver = chromium(tmp_path)
    try:
        driver.get(server.address)
        driver.find_element("id", "file").send_keys(str(notes))
        wait_for(lambda: message(driver)[1] == "error", 30, "the error line")
        assert message(driver)[0] == "notes.txt is not an image Pillow can read"
    finally:
        driver.quit()


def test_keys_undo_redo_brush_size_zoom_and_before_also_while_backslash_is_held(
    server: RunningServer, tmp_path: Path
) -> None:
    """Every key the page names works; holding \\ (which the Before tooltip names) did nothing (issue 21, 11)."""
    require_chromium()
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
    from selenium.webdriver.common.keys import Keys

    photo = tmp_path / "keys.png"
    Image.fromarray(landscape(300, 400, seed=9)).save(photo)
    driver = chromium(tmp_path)
    try:
        open_photo(driver, server.address, photo)
        fill, size, canvas = (driver.find_element("id", name) for name in ("fill", "size", "view"))
        assert not fill.is_enabled()
        paint_stroke(driver, [(100.0, 100.0), (200.0, 120.0)])
        assert fill.is_enabled()
        keys = ActionChains(driver)
        keys.key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()
        assert not fill.is_enabled()  # undone: nothing painted
        keys.key_down(Keys.CONTROL).key_down(Keys.SHIFT).send_keys("z").key_up(Keys.SHIFT).key_up(Keys.CONTROL)
        keys.perform()
        assert fill.is_enabled()  # redone
        before = int(size.get_attribute("value"))
        ActionChains(driver).send_keys("]").perform()
        assert int(size.get_attribute("value")) > before
        ActionChains(driver).send_keys("[").send_keys("[").perform()
        assert int(size.get_attribute("value")) < before
        zoom = float(canvas.get_attribute("data-zoom"))
        ActionChains(driver).scroll_from_origin(ScrollOrigin.from_element(canvas), 0, -300).perform()
        wait_for(lambda: float(canvas.get_attribute("data-zoom")) > zoom, 10, "the wheel to zoom in")
        before_button = driver.find_element("id", "before")
        before_button.click()
        assert before_button.get_attribute("aria-pressed") == "true"
        before_button.click()
        assert "hold \\" in before_button.get_attribute("title")
        ActionChains(driver).key_down("\\").perform()
        assert before_button.get_attribute("aria-pressed") == "true"
        ActionChains(driver).key_up("\\").perform()
        assert before_button.get_attribute("aria-pressed") == "false"
        driver.find_element("id", "clear").click()
        assert not fill.is_enabled()
        assert not driver.get_log("browser")  # no script error
    finally:
        driver.quit()


def test_a_page_of_another_origin_cannot_make_the_server_fill(server: RunningServer, tmp_path: Path) -> None:
    """Issue 21, item 9: a page of another origin (a second server on 127.0.0.1) posts a fill with fetch, as any
    site open in the browser could; the server refuses it (403) and fills nothing. Its own page is served."""
    require_chromium()
    import functools
    import http.server
    import threading

    (tmp_path / "index.html").write_text("<!doctype html><title>another site</title>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    script = """
        const [target, done] = [arguments[0], arguments[arguments.length - 1]];
        const canvas = document.createElement("canvas");
        canvas.width = 64; canvas.height = 48;
        const context = canvas.getContext("2d");
        context.fillStyle = "#3a6"; context.fillRect(0, 0, 64, 48);
        canvas.toBlob(async (photo) => {
            context.fillStyle = "#000"; context.fillRect(0, 0, 64, 48);
            context.fillStyle = "#fff"; context.fillRect(20, 10, 16, 16);
            canvas.toBlob(async (mask) => {
                const form = new FormData();
                form.append("image", photo, "p.png");
                form.append("mask", mask, "m.png");
                try {
                    await fetch(target + "api/fill", { method: "POST", body: form, mode: "no-cors" });
                    done("sent");
                } catch (error) {
                    done("failed: " + error.message);
                }
            }, "image/png");
        }, "image/png");
    """
    driver = chromium(tmp_path)
    try:
        driver.get(f"http://127.0.0.1:{other.server_address[1]}/index.html")
        fills_before = sum("Filled p.filled.png" in line for line in server.lines)
        assert driver.execute_async_script(script, server.address) == "sent"
        driver.get(server.address)
        wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 30, "the page")
        assert driver.execute_async_script(script, server.address) == "sent"  # from its own page: served
        wait_for(lambda: sum("Filled p.filled.png" in line for line in server.lines) > fills_before, 30, "a fill")
    finally:
        driver.quit()
        other.shutdown()
        other.server_close()
    assert sum("Filled p.filled.png" in line for line in server.lines) == fills_before + 1  # only its own page's
