"""`inpaint serve`: the HTTP API through Starlette's TestClient, the command, and a bounded load test."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import landscape, start_server
from PIL import Image
from starlette.testclient import TestClient

from inpaint_cli.files import atomic_files
from inpaint_cli.inpainting.image_fill import bundled_predictor
from inpaint_cli.model.runtime import Predictor
from inpaint_cli.stages import serving

STATIC = Path(serving.__file__).parent / "static"


def encoded(pixels: np.ndarray, image_format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format, **options)
    return buffer.getvalue()


def box_mask(height: int, width: int, top: int = 40, left: int = 50, size: int = 32) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[top : top + size, left : left + size] = 255
    return mask


def post_fill(client: TestClient, photo: bytes, mask: bytes | None, name: str = "photo.png", **fields: str):  # noqa: ANN201
    files = {"image": (name, photo, "application/octet-stream")}
    if mask is not None:
        files["mask"] = ("mask.png", mask, "image/png")
    return client.post("/api/fill", files=files, data=fields)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(serving.create_app(bundled_predictor()))


# --- the page -----------------------------------------------------------------------------------------


def test_the_page_and_its_files_are_served_from_the_package(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        assert f"/static/{name}" in page.text
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_the_page_loads_nothing_from_the_internet() -> None:
    for path in STATIC.iterdir():
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", path.read_text()), path.name


def test_info_gives_the_limits(client: TestClient) -> None:
    info = client.get("/api/info").json()
    assert info["max_pixels"] > 0 and info["max_body_bytes"] == serving.DEFAULT_MAX_BODY_BYTES


# --- fills ---------------------------------------------------------------------------------------------


def test_a_png_fill_is_exact_outside_the_mask_and_changed_inside(client: TestClient) -> None:
    pixels = landscape(120, 160, seed=1)
    mask = box_mask(120, 160)
    response = post_fill(client, encoded(pixels), encoded(mask), name="my holiday.png")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''my%20holiday.filled.png"
    assert json.loads(response.headers["x-inpaint-warnings"]) == []
    filled = np.asarray(Image.open(io.BytesIO(response.content)))
    hole = mask > 0
    assert np.array_equal(filled[~hole], pixels[~hole])
    assert (np.abs(filled.astype(int) - pixels.astype(int)).max(axis=-1)[hole] > 0).mean() > 0.8


def test_a_jpeg_comes_back_as_a_jpeg_with_its_exif_and_orientation(client: TestClient) -> None:
    stored = landscape(160, 120, seed=2)  # stored 120x160, displayed 160x120 (orientation 6: turned)
    exif = Image.Exif()
    exif[0x010F] = "inpaint test camera"
    exif[0x0112] = 6
    mask = box_mask(120, 160)  # the displayed size
    response = post_fill(client, encoded(stored, "JPEG", quality=92, exif=exif.tobytes()), encoded(mask), "a.jpg")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert "a.filled.jpg" in response.headers["content-disposition"]
    result = Image.open(io.BytesIO(response.content))
    assert result.format == "JPEG" and result.size == (120, 160)
    assert result.getexif()[0x010F] == "inpaint test camera" and result.getexif()[0x0112] == 6


def test_smooth_leaves_out_the_texture_stage(client: TestClient) -> None:
    pixels, mask = landscape(96, 128, seed=3), box_mask(96, 128)
    assert post_fill(client, encoded(pixels), encoded(mask), smooth="1").status_code == 200
    refused = post_fill(client, encoded(pixels), encoded(mask), smooth="very")
    assert refused.status_code == 400 and refused.json() == {"error": "smooth='very' must be 1 or 0"}


def test_a_tiff_is_filled_as_a_tiff_and_previewed_as_a_png(client: TestClient) -> None:
    pixels, mask = landscape(64, 80, seed=4), box_mask(64, 80, 16, 20, 20)
    response = post_fill(client, encoded(pixels, "TIFF"), encoded(mask), "scan.tif")
    assert response.status_code == 200 and response.headers["content-type"] == "image/tiff"
    assert Image.open(io.BytesIO(response.content)).format == "TIFF"
    preview = client.post("/api/preview", files={"image": ("scan.tif", encoded(pixels, "TIFF"))})
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(preview.content))), pixels)


# --- bad requests ----------------------------------------------------------------------------------------

PHOTO = encoded(landscape(60, 80, seed=6))
MASK = encoded(box_mask(60, 80, 10, 10, 20))


@pytest.mark.parametrize(
    ("files", "status", "error"),
    [
        ({"mask": ("mask.png", MASK)}, 400, "the form field 'image' is missing"),
        ({"image": ("p.png", PHOTO)}, 400, "the form field 'mask' is missing"),
        ({"image": ("notes.txt", b"not a photo"), "mask": ("m.png", MASK)}, 400, "notes.txt is not an image"),
        ({"image": ("p.png", b""), "mask": ("m.png", MASK)}, 400, "p.png is an empty file"),
        ({"image": ("p.png", PHOTO), "mask": ("m.png", b"nope")}, 400, "the mask is not an image"),
        ({"image": ("p.png", PHOTO), "mask": ("m.png", encoded(box_mask(30, 40)))}, 400, "the mask is 40x30 but"),
        ({"image": ("p.png", PHOTO), "mask": ("m.png", encoded(np.zeros((60, 80), np.uint8)))}, 400, "no white"),
        ({"image": ("p.png", PHOTO), "mask": ("m.png", encoded(np.full((60, 80), 255, np.uint8)))}, 400, "whole"),
        ({"image": ("../../etc/passwd", b"x"), "mask": ("m.png", MASK)}, 400, "passwd is not an image"),
    ],
)
def test_a_bad_request_gets_4xx_and_one_line_then_the_server_goes_on(
    client: TestClient, files: dict[str, tuple[str, bytes]], status: int, error: str
) -> None:
    response = client.post("/api/fill", files=files)
    assert response.status_code == status
    body = response.json()
    assert list(body) == ["error"] and error in body["error"] and "\n" not in body["error"]
    assert "/tmp" not in body["error"] and "inpaint-serve-" not in body["error"]  # no server path
    assert post_fill(client, PHOTO, MASK).status_code == 200


@pytest.mark.parametrize(
    ("headers", "sent"),
    [({"Content-Type": "image/png"}, "a body of type image/png"), ({}, "a body without a Content-Type")],
)
def test_a_body_that_is_not_a_form_is_named_as_such(client: TestClient, headers: dict[str, str], sent: str) -> None:
    response = client.post("/api/fill", content=PHOTO, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": f"the request must be a multipart/form-data form, not {sent}"}


def test_a_text_field_for_the_image_is_refused(client: TestClient) -> None:
    response = client.post("/api/fill", data={"image": "/etc/passwd"}, files={"mask": ("m.png", MASK)})
    assert response.status_code == 400 and "'image' must be a file" in response.json()["error"]


def test_a_body_over_the_limit_is_413() -> None:
    small = TestClient(serving.create_app(bundled_predictor(), max_body_bytes=len(PHOTO) // 2))
    response = post_fill(small, PHOTO, MASK)
    assert response.status_code == 413 and "over the limit of" in response.json()["error"]
    assert small.get("/api/info").status_code == 200


def test_a_photo_over_the_pixel_limit_is_413() -> None:
    small = TestClient(serving.create_app(bundled_predictor(), max_pixels=1000))
    response = post_fill(small, PHOTO, MASK)
    assert response.status_code == 413
    assert response.json()["error"].startswith("photo.png has 80x60 = 4,800 pixels, over the limit of 1,000")
    assert response.json()["error"].endswith("or start inpaint serve with --max-pixels 4800")


def test_unknown_paths_and_methods_answer_json(client: TestClient) -> None:
    assert client.get("/api/nothing").json() == {"error": "GET /api/nothing: Not Found"}
    assert client.get("/api/fill").status_code == 405
    assert client.get("/static/../serving.py").status_code == 404


def test_a_failure_inside_is_500_with_one_line_and_the_server_goes_on() -> None:
    calls = {"count": 0}
    model = bundled_predictor()

    def first_call_fails(batch: np.ndarray) -> np.ndarray:
        calls["count"] += 1
        if calls["count"] == 1:
            raise RuntimeError("the interpreter fell over")
        return model.predict(batch)

    app = serving.create_app(Predictor(first_call_fails, model.input_size, model.path))
    failing = TestClient(app, raise_server_exceptions=False)
    response = post_fill(failing, PHOTO, MASK)
    assert response.status_code == 500
    assert response.json() == {"error": "the server failed: RuntimeError: the interpreter fell over"}
    assert post_fill(failing, PHOTO, MASK).status_code == 200


@pytest.mark.parametrize("where", ["the upload's copy", "the filled photo"])
def test_a_full_disk_on_the_server_is_507_and_names_its_folder(
    client: TestClient, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a 500 "the server failed", nor a 400 that blames the photo: the server's disk wants space."""
    import errno

    def full(*arguments: object, **options: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if where == "the upload's copy":
        monkeypatch.setattr(serving, "_store", full)
    else:  # the atomic write of the result: a DiskFull
        monkeypatch.setattr(atomic_files.os, "replace", full)
    response = post_fill(client, PHOTO, MASK)
    assert response.status_code == 507
    error = response.json()["error"]
    assert error.startswith("the server's disk is full") and f"({tempfile.gettempdir()})" in error
    monkeypatch.undo()
    assert post_fill(client, PHOTO, MASK).status_code == 200


def test_concurrent_requests_share_the_model_one_call_at_a_time() -> None:
    model = bundled_predictor()
    active, most = [0], [0]
    lock = threading.Lock()

    def counted(batch: np.ndarray) -> np.ndarray:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            time.sleep(0.002)
            return model.predict(batch)
        finally:
            with lock:
                active[0] -= 1

    client = TestClient(serving.create_app(Predictor(counted, model.input_size, model.path), max_fills=4))
    photos = [landscape(96, 128, seed=10 + index) for index in range(8)]
    mask = box_mask(96, 128, 30, 40, 24)
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda pixels: post_fill(client, encoded(pixels), encoded(mask)), photos))
    hole = mask > 0
    for pixels, response in zip(photos, responses, strict=True):
        assert response.status_code == 200
        filled = np.asarray(Image.open(io.BytesIO(response.content)))
        assert np.array_equal(filled[~hole], pixels[~hole])
        # the same photo alone gives the same pixels: no request saw another's windows
        assert np.array_equal(
            filled, np.asarray(Image.open(io.BytesIO(post_fill(client, encoded(pixels), encoded(mask)).content)))
        )
    assert most[0] == 1


def test_upload_names_are_reduced_to_plain_names() -> None:
    assert serving.safe_name("../../etc/passwd") == "passwd"
    assert serving.safe_name("C:\\Users\\me\\photo 1.jpg") == "photo 1.jpg"
    assert serving.safe_name("..") == "photo" and serving.safe_name(None) == "photo"


def test_fill_does_not_import_the_web_stack() -> None:
    code = (
        "import sys, inpaint_cli.cli, inpaint_cli.stages.filling; print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for name in ("starlette", "uvicorn", "multipart", "python_multipart", "anyio"):
        assert f"'{name}'" not in loaded


# --- the command ----------------------------------------------------------------------------------------


def serve_command(*arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "inpaint_cli.cli", "serve", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_serve_prints_its_address_serves_the_page_and_stops_on_ctrl_c() -> None:
    started = time.perf_counter()
    server = start_server()
    with urllib.request.urlopen(server.address, timeout=30) as page:
        assert page.status == 200 and b"app.js" in page.read()
    first_page = time.perf_counter() - started
    assert server.stop() == 130
    server.process.stderr.close()
    assert server.lines[0].startswith("Serving the inpaint page on http://127.0.0.1:")
    assert server.lines[-1] == "Stopped."
    print(f"\ninpaint serve: address after {server.seconds_to_address:.2f} s, first page after {first_page:.2f} s")


@pytest.mark.slow
def test_a_busy_port_and_a_missing_model_are_one_line_errors_before_serving(tmp_path: Path) -> None:
    server = start_server()
    try:
        port = server.address.rsplit(":", 1)[1].strip("/")
        busy = serve_command("--port", port)
    finally:
        server.stop()
    assert busy.returncode == 1
    assert busy.stderr.splitlines() == [f"Error: port {port} on 127.0.0.1 is already in use; choose another port"]
    missing = serve_command("--port", "0", "--model", str(tmp_path / "nothing"))
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [f"Error: model {tmp_path / 'nothing'} does not exist"]
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a model")
    failed = serve_command("--port", "0", "--model", str(broken))
    assert failed.returncode == 1 and len(failed.stderr.splitlines()) == 1
    assert failed.stderr.startswith(f"Error: {broken} is not a LiteRT model")


@pytest.mark.slow
def test_another_host_than_loopback_gets_a_warning() -> None:
    server = start_server("--host", "0.0.0.0")
    try:
        assert server.lines[0].startswith("Warning: serving on 0.0.0.0: anyone who can reach this machine")
        with urllib.request.urlopen(server.address, timeout=30) as page:
            assert page.status == 200
    finally:
        server.stop()


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of a process, in MB (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) / 1024


@pytest.mark.slow
def test_twenty_concurrent_fills_of_a_2_megapixel_photo(tmp_path: Path) -> None:
    """The bounded load test: 20 fills at once against a real server on 127.0.0.1, every one answered."""
    pixels = np.asarray(Image.fromarray(landscape(300, 400, seed=7)).resize((1600, 1200), Image.Resampling.BICUBIC))
    photo = encoded(pixels, "JPEG", quality=90)
    mask = np.zeros((1200, 1600), np.uint8)
    mask[500:580, 700:800] = 255
    server = start_server()
    assert server.address.startswith("http://127.0.0.1:")  # only this machine is the target
    idle_mb = peak_rss_mb(server.process.pid)

    def one(index: int) -> tuple[int, float, bytes]:
        boundary = f"inpaint-load-{index}"
        body = b"".join(
            [
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="p{index}.jpg"\r\n'.encode(),
                b"\r\n",
                photo,
                f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="mask"; filename="m.png"\r\n\r\n'.encode(),
                encoded(mask),
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        request = urllib.request.Request(
            server.address + "api/fill", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=240) as response:
            content = response.read()
            return response.status, time.perf_counter() - started, content

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(one, range(20)))
        total = time.perf_counter() - started
        peak_mb = peak_rss_mb(server.process.pid)
        with urllib.request.urlopen(server.address + "api/info", timeout=30) as info:
            assert info.status == 200  # still up
    finally:
        assert server.stop() == 130
    latencies = sorted(seconds for _, seconds, _ in results)
    assert all(status == 200 for status, _, _ in results)
    for _, _, content in results:
        assert Image.open(io.BytesIO(content)).size == (1600, 1200)
    print(
        f"\nload test: 20 fills of a 1600x1200 JPEG in {total:.1f} s; latency min {latencies[0]:.2f} s, "
        f"median {latencies[10]:.2f} s, max {latencies[-1]:.2f} s; "
        f"server RSS idle {idle_mb:.0f} MB, peak {peak_mb:.0f} MB"
    )
    assert peak_mb < idle_mb + 1024  # bounded: fills run at most serving.DEFAULT_MAX_FILLS at a time


def test_a_page_served_on_loopback_refuses_other_host_names() -> None:
    hosts = ["127.0.0.1", "localhost", "::1", "[::1]"]
    app = serving.create_app(bundled_predictor(), allowed_hosts=hosts)
    assert TestClient(app, base_url="http://127.0.0.1:8000").get("/").status_code == 200
    assert TestClient(app, base_url="http://attacker.example").get("/").status_code == 400  # DNS rebinding


# --- issue 21: one mask rule, IPv6 loopback, other sites' pages, malformed and abandoned bodies, warnings -------


def test_a_red_stroke_is_a_hole_and_transparent_white_is_not_as_for_fill(client: TestClient) -> None:
    """Item 3: serve reads a mask by masking.as_hole's rule, as --mask and fill_image do."""
    from inpaint_cli.inpainting import masking

    pixels = landscape(60, 80, seed=11)
    mask = np.zeros((60, 80, 4), np.uint8)
    mask[..., 3] = 255
    mask[10:30, 8:30] = (255, 0, 0, 255)  # a pure red stroke (luminance 76): a hole
    mask[32:52, 40:70] = (255, 255, 255, 0)  # white but transparent: not a hole
    hole = masking.as_hole(Image.fromarray(mask))
    assert hole[10:30, 8:30].all() and not hole[32:52, 40:70].any()
    response = post_fill(client, encoded(pixels), encoded(mask))
    assert response.status_code == 200, response.text
    filled = np.asarray(Image.open(io.BytesIO(response.content)))
    assert np.array_equal(filled[~hole], pixels[~hole])
    assert (np.abs(filled.astype(int) - pixels.astype(int)).max(axis=-1)[hole] > 0).mean() > 0.8


def test_an_ipv6_host_header_is_read_as_a_name(tmp_path: Path) -> None:
    """Item 6: Host: [::1]:8000 names ::1 (Starlette's TrustedHostMiddleware cut it at the first colon)."""
    import anyio
    import httpx

    assert serving.host_name("[::1]:8000") == "::1" and serving.host_name("LocalHost:80") == "localhost"
    assert serving.host_name("[::1") is None
    app = serving.create_app(bundled_predictor(), allowed_hosts=sorted(serving.LOOPBACK_NAMES))

    async def get(base_url: str) -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base_url) as http:
            return (await http.get("/api/info")).status_code

    assert anyio.run(get, "http://[::1]:8000") == 200
    assert anyio.run(get, "http://[::2]:8000") == 400


@pytest.mark.slow
def test_serve_on_ipv6_loopback_fills_at_the_address_it_prints() -> None:
    """Item 6: `inpaint serve --host ::1`: the page and a fill at http://[::1]:PORT/."""
    server = start_server("--host", "::1")
    try:
        assert server.address.startswith("http://[::1]:")
        with urllib.request.urlopen(server.address, timeout=30) as page:
            assert page.status == 200 and b"app.js" in page.read()
        status, content = raw_fill(server.address, PHOTO, MASK)
        assert status == 200 and Image.open(io.BytesIO(content)).size == (80, 60)
    finally:
        assert server.stop() == 130
    assert not [line for line in server.lines if "Warning" in line or "Traceback" in line]


def raw_fill(address: str, photo: bytes, mask: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """POST /api/fill with urllib, as a script does (no Origin); the status and the body, also of an error."""
    boundary = "inpaint-raw"
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="p.png"\r\n\r\n'.encode(),
            photo,
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="mask"; filename="m.png"\r\n\r\n'.encode(),
            mask,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    request = urllib.request.Request(
        address + "api/fill", body, {"Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 200),  # curl, scripts
        ({"Origin": "http://127.0.0.1:8000"}, 200),  # the page itself
        ({"Sec-Fetch-Site": "same-origin"}, 200),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "http://localhost:8000"}, 403),  # another origin of this machine
        ({"Origin": "http://127.0.0.1:9000"}, 403),
        ({"Origin": "null"}, 403),  # a sandboxed frame or a file:// page
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
    ],
)
def test_a_fill_sent_by_another_sites_page_is_refused_and_scripts_are_served(
    headers: dict[str, str], status: int
) -> None:
    """Item 9: Origin (or Sec-Fetch-Site) other than the page's own is 403 with one line; no Origin is served."""
    app = serving.create_app(bundled_predictor(), allowed_hosts=sorted(serving.LOOPBACK_NAMES))
    local = TestClient(app, base_url="http://127.0.0.1:8000")
    files = {"image": ("p.png", PHOTO), "mask": ("m.png", MASK)}
    response = local.post("/api/fill", files=files, headers=headers)
    assert response.status_code == status
    if status == 403:
        error = response.json()["error"]
        assert error.startswith("refused a request from another site's page (") and "\n" not in error
        assert error.endswith("only inpaint's own page may use this server")


def test_following_a_link_from_another_site_still_opens_the_page() -> None:
    """Item 9: a navigation (GET, Sec-Fetch-Mode: navigate) from another site is the user opening the page."""
    local = TestClient(serving.create_app(bundled_predictor()), base_url="http://127.0.0.1:8000")
    link = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    assert local.get("/", headers=link).status_code == 200
    assert local.get("/api/info", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        b'--b\r\nContent-Disposition form-data; name="image"\r\n\r\nx\r\n--b--\r\n',  # a header without a colon
        b"not a boundary\r\n--b\r\n",
        b"--b\r\nno header\r\n\r\nx\r\n--b--\r\n",
    ],
)
def test_a_malformed_multipart_body_is_400_with_one_line(client: TestClient, body: bytes) -> None:
    """Item 10: python-multipart's MultipartParseError was a 500 with a traceback."""
    response = client.post("/api/fill", content=body, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("the form could not be read (a malformed multipart body: ") and "\n" not in error
    assert post_fill(client, PHOTO, MASK).status_code == 200


@pytest.mark.slow
def test_a_client_leaving_mid_upload_and_a_malformed_body_leave_no_traceback_in_the_log() -> None:
    """Item 10: each printed a full ASGI traceback on the server's stderr; now at most one line each."""
    import socket

    server = start_server()
    host, port = server.address.removeprefix("http://").strip("/").rsplit(":", 1)
    try:
        for _ in range(3):  # half a body, then gone
            with socket.create_connection((host, int(port)), timeout=10) as connection:
                connection.sendall(
                    b"POST /api/fill HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
                    b'--b\r\nContent-Disposition: form-data; name="image"; filename="p.png"\r\n\r\n' + PHOTO[:500]
                )
                time.sleep(0.3)
        malformed = urllib.request.Request(
            server.address + "api/fill", b"garbage\r\n--b\r\n", {"Content-Type": "multipart/form-data; boundary=b"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(malformed, timeout=30)
        assert refused.value.code == 400
        assert raw_fill(server.address, PHOTO, MASK)[0] == 200  # still serving
        time.sleep(0.5)
    finally:
        assert server.stop() == 130
    logged = [line for line in server.lines if not line.startswith(("Serving the inpaint page", "Filled p.filled.png"))]
    assert logged == ["Stopped."], logged


def test_a_palette_photo_comes_back_with_the_warning_fill_prints(client: TestClient) -> None:
    """Item 11: `inpaint fill` warns that palette pixels are written as RGB; serve passes it on to the page."""
    palette = Image.fromarray(landscape(60, 80, seed=12)).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG")
    response = post_fill(client, buffer.getvalue(), MASK, name="drawing.png")
    assert response.status_code == 200, response.text
    assert json.loads(response.headers["x-inpaint-warnings"]) == ["its palette (P) pixels are written as RGB"]
