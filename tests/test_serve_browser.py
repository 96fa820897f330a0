"""`inpaint serve` end to end in a real browser: headless Chromium (Debian's) driven by Selenium 4.

Open the page, load a generated photo, paint a stroke with mouse events, Fill, download, and check the
pixels. Skipped only where chromium is missing and CI is not set; .ci/run installs it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from browser import brush_width, chromium, message, open_photo, paint_stroke, require_chromium, wait_for
from conftest import RunningServer, landscape, start_server
from PIL import Image

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


def test_a_turned_jpeg_is_shown_upright_and_filled_in_place(server: RunningServer, tmp_path: Path) -> None:
    """EXIF orientation 6: the page paints on the photo as displayed, and the server gets a mask of that size."""
    require_chromium()
    photo = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(landscape(320, 240, seed=8)).save(photo, quality=95, exif=exif.tobytes())  # shown 320x240
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = chromium(downloads)
    try:
        open_photo(driver, server.address, photo)
        assert "320×240" in driver.find_element("id", "details").text
        paint_stroke(driver, [(100.0, 100.0), (200.0, 140.0)])
        target = fill_and_download(driver, downloads / "turned.filled.jpg")
    finally:
        driver.quit()
    with Image.open(target) as result:
        assert result.format == "JPEG" and result.size == (240, 320) and result.getexif()[0x0112] == 6


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


def test_keys_undo_redo_brush_size_zoom_and_before(server: RunningServer, tmp_path: Path) -> None:
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
        driver.find_element("id", "before").click()
        assert driver.find_element("id", "before").get_attribute("aria-pressed") == "true"
        driver.find_element("id", "clear").click()
        assert not fill.is_enabled()
        assert not driver.get_log("browser")  # no script error
    finally:
        driver.quit()
