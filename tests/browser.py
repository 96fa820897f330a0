"""Headless Chromium driven by Selenium, for the page of `inpaint serve` (tests and the README's screenshot)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def require_chromium() -> None:
    """Skip without Debian's chromium and chromium-driver, except under CI, where .ci/run installs them: fail there."""
    if CHROMIUM and CHROMEDRIVER:
        return
    missing = "chromium" if not CHROMIUM else "chromedriver (package chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(f"{missing} is not installed; .ci/run installs it (apt-get install chromium chromium-driver)")
    pytest.skip(f"needs {missing}: apt-get install chromium chromium-driver")


def chromium(downloads: Path, width: int = 1280, height: int = 800):  # noqa: ANN201 - a selenium WebDriver
    """Headless Chromium (--headless=new, --no-sandbox: CI runs as root) saving downloads in downloads."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    """condition()'s first true value, polled; AssertionError naming what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def message(driver) -> tuple[str, str]:  # noqa: ANN001
    """The page's status line and its kind ('', 'ok' or 'error')."""
    from selenium.webdriver.common.by import By

    line = driver.find_element(By.ID, "message")
    return line.text, line.get_attribute("class") or ""


def open_photo(driver, address: str, photo: Path) -> None:  # noqa: ANN001
    """Load the page and open photo through its file input, as the Open button does."""
    from selenium.webdriver.common.by import By

    driver.get(address)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 30, "the page")
    driver.find_element(By.ID, "file").send_keys(str(photo))
    wait_for(lambda: "Opened" in message(driver)[0] or message(driver)[1] == "error", 30, "the photo to open")
    text, kind = message(driver)
    assert kind != "error", text


def paint_stroke(driver, points: list[tuple[float, float]], steps: int = 8) -> None:  # noqa: ANN001
    """Paint through points (pixels of the photo) with real mouse events on the canvas: press, move, release."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, "view")
    zoom = float(canvas.get_attribute("data-zoom"))
    pan_x, pan_y = (float(value) for value in canvas.get_attribute("data-pan").split(","))
    box = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", canvas)

    def offset(point: tuple[float, float]) -> tuple[int, int]:  # from the canvas's centre, as Selenium 4 takes it
        return round(pan_x + point[0] * zoom - box[0] / 2), round(pan_y + point[1] * zoom - box[1] / 2)

    actions = ActionChains(driver, duration=10)
    actions.move_to_element_with_offset(canvas, *offset(points[0])).click_and_hold()
    for start, end in zip(points, points[1:], strict=False):
        for step in range(1, steps + 1):
            fraction = step / steps
            between = (start[0] + (end[0] - start[0]) * fraction, start[1] + (end[1] - start[1]) * fraction)
            actions.move_to_element_with_offset(canvas, *offset(between))
    actions.release().perform()


def brush_width(driver) -> float:  # noqa: ANN001
    """The brush's diameter in pixels of the photo at the current zoom."""
    from selenium.webdriver.common.by import By

    size = float(driver.find_element(By.ID, "size").get_attribute("value"))
    return size / float(driver.find_element(By.ID, "view").get_attribute("data-zoom"))


def shown_colour(driver, point: tuple[float, float]) -> tuple[int, int, int]:  # noqa: ANN001
    """The RGB the page's canvas shows at a pixel of the photo (as the page holds it), mask overlay included."""
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, "view")
    zoom = float(canvas.get_attribute("data-zoom"))
    pan_x, pan_y = (float(value) for value in canvas.get_attribute("data-pan").split(","))
    script = (
        "const ratio = window.devicePixelRatio || 1;"
        "const data = arguments[0].getContext('2d').getImageData("
        "Math.floor(arguments[1] * ratio), Math.floor(arguments[2] * ratio), 1, 1).data;"
        "return [data[0], data[1], data[2]];"
    )
    red, green, blue = driver.execute_script(script, canvas, pan_x + point[0] * zoom, pan_y + point[1] * zoom)
    return red, green, blue
