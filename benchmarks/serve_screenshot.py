"""The README's screenshot of `inpaint serve`: the example photo with a painted stroke, in headless Chromium.

Run from the repository root: python benchmarks/serve_screenshot.py [docs/images/serve.png]
It needs the serve and test extras and Debian's chromium and chromium-driver, as tests/test_serve_browser.py does.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from browser import chromium, open_photo, paint_stroke  # noqa: E402
from conftest import start_server  # noqa: E402
from PIL import Image  # noqa: E402


def main(target: Path) -> None:
    server = start_server()
    try:
        with tempfile.TemporaryDirectory() as downloads:
            driver = chromium(Path(downloads))
            try:
                open_photo(driver, server.address, REPO / "examples" / "picos_de_europa.jpg")
                metrics = {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False}
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
                driver.execute_script("document.getElementById('zoom-fit').click();")
                driver.execute_script("document.getElementById('size').value = 34;")
                driver.execute_script("document.getElementById('size').dispatchEvent(new Event('input'));")
                paint_stroke(
                    driver, [(784, 686), (826, 692), (790, 712), (828, 724)]
                )  # the white rock (--box 770,672,68)
                shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
                # 256 colours: 0.37 MB instead of 1 MB, hardly different to the eye
                shot.quantize(256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
            finally:
                driver.quit()
    finally:
        server.stop()
    print(f"Wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "images" / "serve.png")
