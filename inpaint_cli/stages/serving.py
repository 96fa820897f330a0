"""`inpaint serve`: a local web page to brush over what should go, and the small HTTP API behind it.

Imported only by `serve` (Starlette, uvicorn and python-multipart come with the plain install), so `fill`
never pays for them. Every fill goes through filling.fill_image on a photo opened with
images.open_photo and written with photo_writing.save_photo, as `inpaint fill` does; uploads live in a
private temporary folder that is removed after each request, and no request names a server path.
"""

from __future__ import annotations

import errno
import io
import ipaddress
import json
import logging
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import quote, urlsplit

import anyio
import python_multipart.exceptions  # Starlette reads forms with it; missing, serve says so before it starts
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from inpaint_cli import __version__
from inpaint_cli.errors import DiskFull, InpaintError, TooManyPixels, UsageError, is_disk_full
from inpaint_cli.files import images, photo_writing
from inpaint_cli.model import runtime
from inpaint_cli.model.runtime import Predictor
from inpaint_cli.settings import SERVE_HOST, SERVE_PORT
from inpaint_cli.stages.filling import FillOptions, fill_image

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_MAX_BODY_BYTES = 200 * 2**20  # a 12 MP 8-bit TIFF or PNG is 20-40 MB; 200 MB holds a 50 MP one
DEFAULT_MAX_FILLS = 2  # fills at once (decode, fill, encode); more requests wait their turn: bounded memory
# What a request's upload is written as, per Pillow format; a format with no writer comes back as PNG.
SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}
MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
T = TypeVar("T")


class RequestError(Exception):
    """A request the server refuses: its HTTP status and one line for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class BodyTooLarge(Exception):
    """The request body went over the limit while it was being read."""


@dataclass(frozen=True)
class Filled:
    """One fill's result: the file's bytes, its name and media type, and the fill's warnings."""

    content: bytes
    filename: str
    media_type: str
    warnings: list[str]
    width: int
    height: int


def shared_predictor(predictor: Predictor) -> Predictor:
    """The predictor with its calls serialised: one LiteRT interpreter is not safe to call from two threads."""
    lock = threading.Lock()
    predict = predictor.predict

    def locked(batch):  # noqa: ANN001, ANN202 - numpy arrays; numpy is not imported here
        with lock:
            return predict(batch)

    return Predictor(locked, predictor.input_size, predictor.path)


def safe_name(filename: str | None, default: str = "photo") -> str:
    """An upload's file name reduced to a plain name: no folder, no odd characters, at most 100 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = re.sub(r"[^\w.\- ]", "_", name).strip(" .")[:100]
    return name or default


def fill_upload(
    photo_bytes: bytes | BinaryIO,
    photo_name: str,
    mask_bytes: bytes | BinaryIO,
    predictor: Predictor,
    options: FillOptions = FillOptions(),  # noqa: B008 - frozen
    max_pixels: int | None = None,
) -> Filled:
    """Fill an uploaded photo with an uploaded mask (white = hole, the photo's displayed size).

    Both (bytes or open files) are copied into a private temporary folder, opened with open_photo, filled
    with fill_image and saved with save_photo in the photo's own format; the folder is removed
    before this returns. Raises RequestError for what the client must change.
    """
    name = safe_name(photo_name)
    stem, dot, suffix = name.rpartition(".")
    stem = stem if dot and stem else name
    with tempfile.TemporaryDirectory(prefix="inpaint-serve-") as folder:
        work = Path(folder)
        try:
            photo_path = _store(photo_bytes, work / f"upload-{name}")
            mask_path = _store(mask_bytes, work / "mask.png")
            warnings: list[str] = []
            source = _open(photo_path, max_pixels, name)
            mask = _open(mask_path, max_pixels, "the mask").image
            width, height = source.image.size
            if mask.size != (width, height):
                raise RequestError(
                    400, f"the mask is {mask.width}x{mask.height} but the photo is {width}x{height} (as displayed)"
                )
            hole = _hole(mask)
            if images.working_mode(source.image) == "RGB" != source.image.mode:  # as `inpaint fill` warns
                warnings.append(f"its {images.mode_name(source.image)} are written as RGB")
            pixels = source.image if source.deep is None else source.deep  # a 16-bit photo is filled as uint16
            filled = fill_image(pixels, hole, options, predictor, warnings.append)
            out_suffix = SUFFIXES.get(source.format or "", ".png")
            target = work / f"result{out_suffix}"
            warnings += photo_writing.notes_on_writing(source, target)
            photo_writing.save_photo(filled, target, source)
            return Filled(
                target.read_bytes(), f"{stem}.filled{out_suffix}", MEDIA_TYPES[out_suffix], warnings, width, height
            )
        except InpaintError as error:
            raise _request_error(error, folder, name) from None


def preview_upload(photo_data: bytes | BinaryIO, photo_name: str, max_pixels: int | None = None) -> bytes:
    """A PNG of an uploaded photo's upright pixels, for a page whose browser cannot decode its format (TIFF)."""
    name = safe_name(photo_name)
    with tempfile.TemporaryDirectory(prefix="inpaint-serve-") as folder:
        try:
            source = _open(_store(photo_data, Path(folder) / f"upload-{name}"), max_pixels, name)
        except InpaintError as error:
            raise _request_error(error, folder, name) from None
    image = source.image
    if image.mode not in {"RGB", "RGBA", "L", "LA"}:
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _store(data: bytes | BinaryIO, path: Path) -> Path:
    """Write data (bytes, or an open file to copy) to path in the private folder."""
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        with path.open("wb") as target:
            shutil.copyfileobj(data, target, 2**20)
    return path


def _open(path: Path, max_pixels: int | None, what: str) -> images.Photo:
    """open_photo, with an empty file refused by name."""
    if path.stat().st_size == 0:
        raise RequestError(400, f"{what} is an empty file")
    return images.open_photo(path, max_pixels)


def _hole(mask):  # noqa: ANN001, ANN202 - a Pillow image in, a bool numpy array out
    """The mask's holes by masking.as_hole's rule, as `inpaint fill --mask` reads them; none is a RequestError."""
    from inpaint_cli.inpainting import masking

    hole = masking.as_hole(mask)
    if not hole.any():
        raise RequestError(400, "the mask has no white pixels: paint over what should go first")
    return hole


_DISK_FULL = (
    f"the server's disk is full where it keeps uploads while it fills them ({tempfile.gettempdir()}): free some "
    "space there, or start inpaint serve with TMPDIR on a larger disk"
)


def _request_error(error: InpaintError, folder: str, name: str) -> RequestError:
    """A library error as the page shows it: 413 for a photo over the pixel limit (and how the server raises it)."""
    message = _without_folder(str(error), folder, name)
    if isinstance(error, DiskFull):
        return RequestError(507, _DISK_FULL)
    if isinstance(error, TooManyPixels):
        return RequestError(413, f"{message}, or start inpaint serve with --max-pixels {error.pixels or ''}".rstrip())
    return RequestError(400, message)


def _without_folder(message: str, folder: str, name: str) -> str:
    """A library message without the private folder's path: it names the upload as the user called it."""
    message = message.replace(f"{folder}/upload-{name}", name).replace(f"{folder}/mask.png", "the mask")
    return message.replace(f"{folder}/", "")


def parse_options(smooth: str | None) -> FillOptions:
    """The fill's options from the form: smooth=1 leaves the texture stage out."""
    value = (smooth or "").strip().lower()
    if value in {"", "0", "false", "no", "off"}:
        return FillOptions()
    if value in {"1", "true", "yes", "on"}:
        return FillOptions(texture=False)
    raise RequestError(400, f"smooth={smooth!r} must be 1 or 0")


def _limited(receive: Receive, limit: int) -> Receive:
    """receive, raising BodyTooLarge once the body read so far is over limit bytes."""
    seen = 0

    async def limited_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
        return message

    return limited_receive


def error_response(status: int, message: str) -> JSONResponse:
    """The API's error shape: {"error": "one line"}."""
    return JSONResponse({"error": " ".join(message.split())}, status_code=status)


def create_app(
    predictor: Predictor | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_pixels: int | None = None,
    max_fills: int = DEFAULT_MAX_FILLS,
    allowed_hosts: list[str] | None = None,
    on_fill: Callable[[str], None] | None = None,
) -> Starlette:
    """The ASGI app: the page at /, its files under /static, POST /api/fill and GET /api/info.

    predictor: a loaded model, shared by every request (default: the bundled model, loaded now).
    max_body_bytes: the largest request body; max_pixels: the largest photo (default images.max_pixels_allowed).
    max_fills: fills run at once; more wait. allowed_hosts: the host names a Host header may give (None: any);
    requests from another site's page are refused whatever they are (SameSiteOnly).
    on_fill receives one line per fill done.
    """
    settings = ServerSettings(
        model=shared_predictor(predictor or runtime.load_predictor()),
        pixel_limit=images.max_pixels_allowed(max_pixels),
        max_body_bytes=max_body_bytes,
        # A thread's semaphore, not anyio's limiter: it holds whatever event loop runs the app (TestClient runs
        # several).
        fill_slots=threading.BoundedSemaphore(max_fills),
        on_fill=on_fill,
    )
    middleware = [Middleware(SecurityHeaders), Middleware(SameSiteOnly, allowed_hosts=allowed_hosts)]
    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/info", info),
            Route("/api/fill", fill, methods=["POST"]),
            Route("/api/preview", preview, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=middleware,
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    app.state.settings = settings
    return app


@dataclass(frozen=True)
class ServerSettings:
    """What every request of one app shares: the model, the limits, the fill slots; app.state.settings."""

    model: Predictor
    pixel_limit: int
    max_body_bytes: int
    fill_slots: threading.BoundedSemaphore  # fills at once; more wait their turn
    on_fill: Callable[[str], None] | None  # told one line per fill done

    def in_turn(self, work: Callable[[], T]) -> T:
        """work() once a fill slot is free: bounded memory however many requests come."""
        with self.fill_slots:
            return work()


def _settings(request: Request) -> ServerSettings:
    return request.app.state.settings


async def page(request: Request) -> Response:
    """GET /: the page."""
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def info(request: Request) -> Response:
    """GET /api/info: the version, the limits and the model's name, for the page."""
    settings = _settings(request)
    return JSONResponse(
        {
            "version": __version__,
            "max_pixels": settings.pixel_limit,
            "max_body_bytes": settings.max_body_bytes,
            "model": settings.model.path.name,
        }
    )


async def fill(request: Request) -> Response:
    """POST /api/fill: the form's photo filled where its mask is white, in the photo's own format."""
    started = time.perf_counter()
    settings = _settings(request)

    async def work(form: FormData) -> Filled:
        photo, mask = _file_field(form, "image"), _file_field(form, "mask")
        smooth = form.get("smooth")
        options = parse_options(smooth if isinstance(smooth, str) else None)
        photo_data, mask_data = await _upload_data(photo), await _upload_data(mask)
        name, model, limit = photo.filename or "photo", settings.model, settings.pixel_limit
        return await anyio.to_thread.run_sync(
            settings.in_turn, lambda: fill_upload(photo_data, name, mask_data, model, options, limit)
        )

    result = await _with_form(request, settings.max_body_bytes, work)
    if isinstance(result, Response):
        return result
    seconds = time.perf_counter() - started
    if settings.on_fill is not None:
        settings.on_fill(f"Filled {result.filename} ({result.width}x{result.height}) in {seconds:.1f} s")
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(result.filename)}",
        "X-Inpaint-Warnings": json.dumps(result.warnings),
        "X-Inpaint-Seconds": f"{seconds:.3f}",
        "Cache-Control": "no-store",
    }
    return Response(result.content, media_type=result.media_type, headers=headers)


async def preview(request: Request) -> Response:
    """POST /api/preview: a PNG of the form's photo, for a browser that cannot show its format."""
    settings = _settings(request)

    async def work(form: FormData) -> bytes:
        photo = _file_field(form, "image")
        data = await _upload_data(photo)
        name, limit = photo.filename or "photo", settings.pixel_limit
        return await anyio.to_thread.run_sync(settings.in_turn, lambda: preview_upload(data, name, limit))

    result = await _with_form(request, settings.max_body_bytes, work)
    if isinstance(result, Response):
        return result
    return Response(result, media_type="image/png", headers={"Cache-Control": "no-store"})


async def http_error(request: Request, error: Exception) -> Response:
    """An HTTP error (404, 405...): one JSON line under /api/, plain text elsewhere."""
    assert isinstance(error, HTTPException)
    if request.url.path.startswith("/api/"):
        return error_response(error.status_code, f"{request.method} {request.url.path}: {error.detail}")
    return Response(f"{error.status_code} {error.detail}", status_code=error.status_code)


async def server_error(request: Request, error: Exception) -> Response:
    """A failure of the server itself, as one JSON line."""
    # Starlette re-raises it after this response, and uvicorn logs the traceback on stderr.
    return error_response(500, f"the server failed: {type(error).__name__}: {error}")


async def _with_form(request: Request, max_body_bytes: int, work: Callable[[FormData], Awaitable[T]]) -> T | Response:
    """work(the request's multipart form), or the error response: a body over the limit, a bad form, a refusal.

    The form's files (in memory up to 1 MB, else anonymous temporary files) are closed when work is done.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        return _too_large(max_body_bytes)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":  # a raw photo or JSON body would otherwise read as a form with no fields
        sent = f"a body of type {kind}" if kind else "a body without a Content-Type"
        return error_response(400, f"the request must be a multipart/form-data form, not {sent}")
    limited = Request(request.scope, _limited(request.receive, max_body_bytes))
    try:
        async with limited.form(max_files=2, max_fields=8) as form:
            return await work(form)
    except BodyTooLarge:
        return _too_large(max_body_bytes)
    except RequestError as error:
        return error_response(error.status, str(error))
    except HTTPException as error:  # the multipart parser's own refusals (too many fields, bad boundary)
        return error_response(error.status_code, f"the form could not be read ({error.detail})")
    except python_multipart.exceptions.ParseError as error:  # a malformed body, which Starlette lets through
        return error_response(400, f"the form could not be read (a malformed multipart body: {error})")
    except ClientDisconnect:  # the client went away mid-upload: nobody reads an answer, and nothing to log
        return Response(status_code=400)
    except OSError as error:  # the upload spooled, or copied into the private folder, onto a full disk
        if not is_disk_full(error):
            raise
        return error_response(507, _DISK_FULL)


def _file_field(form: FormData, field: str) -> UploadFile:
    """The form's file named field; a missing field or one that is not a file is a RequestError."""
    value = form.get(field)
    if not isinstance(value, UploadFile):
        missing = "is missing" if value is None else "must be a file"
        raise RequestError(400, f"the form field {field!r} {missing} (send the photo as 'image', the mask as 'mask')")
    return value


def _too_large(limit: int) -> JSONResponse:
    return error_response(413, f"the upload is over the limit of {limit / 2**20:.0f} MB")


async def _upload_data(upload: UploadFile) -> BinaryIO:
    """An uploaded file, rewound: Starlette keeps it in memory up to 1 MB, else in an anonymous temporary file.

    It is copied into the private folder in the worker thread, never read whole into memory.
    """
    await upload.seek(0)
    return upload.file


class SecurityHeaders:
    """ASGI middleware: the page may load only its own files, never be framed, never be sniffed as another type."""

    POLICY = (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'"
    )

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", self.POLICY.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SameSiteOnly:
    """ASGI middleware: serves only requests that name this server as allowed and come from its own page.

    A Host header whose name is not in allowed_hosts (None: any) is refused with 400: on loopback, a
    page of another site that a DNS name points at 127.0.0.1 (DNS rebinding). A request whose Origin is
    not this server, or that the browser marks as sent by another site (Sec-Fetch-Site) without being a
    link followed to a page, is refused with 403: any web page open in the browser could otherwise make
    the server fill. A request with neither header (curl, scripts) is served.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], allowed_hosts: list[str] | None = None) -> None:
        self.app = app
        self.allowed_hosts = None if allowed_hosts is None else {name.strip("[]").lower() for name in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
            refusal = self.refusal(scope["method"], headers)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, method: str, headers: dict[str, str]) -> Response | None:
        """The answer refusing a request with these (lower-case) headers, or None to serve it."""
        host = headers.get("host", "")
        if self.allowed_hosts is not None and host_name(host) not in self.allowed_hosts:
            return error_response(
                400, f"the Host header {host!r} does not name this server; open the address inpaint serve printed"
            )
        origin = headers.get("origin")
        if origin is not None:
            same = _netloc(origin) == host.lower()
            return None if same else _cross_site(f"its Origin is {origin}")
        site = headers.get("sec-fetch-site", "same-origin")
        if site in {"same-origin", "none"} or (method == "GET" and headers.get("sec-fetch-mode") == "navigate"):
            return None  # the page itself, an address typed or a bookmark, or a link followed to the page
        return _cross_site(f"Sec-Fetch-Site is {site}")


def host_name(host: str) -> str | None:
    """The name a Host header gives, lower case, without its port or an IPv6 address's brackets; None if malformed."""
    try:
        return urlsplit(f"//{host}").hostname
    except ValueError:
        return None


def _netloc(origin: str) -> str | None:
    """An Origin header's host and port as a Host header gives them (lower case); None for "null" or a malformed one."""
    try:
        return urlsplit(origin).netloc.lower() or None
    except ValueError:
        return None


def _cross_site(why: str) -> JSONResponse:
    """The 403 for a request another site's page sent."""
    return error_response(
        403, f"refused a request from another site's page ({why}): only inpaint's own page may use this server"
    )


# --- the server -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServeConfig:
    """What `inpaint serve` was asked."""

    host: str = SERVE_HOST
    port: int = SERVE_PORT
    model: str | Path | None = None  # None or "bundled": the bundled model
    open_browser: bool = False
    max_pixels: int | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def is_loopback(host: str) -> bool:
    """Whether host reaches only this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; a busy port or an unknown host is one-line InpaintError."""
    if not 0 <= port <= 65535:
        raise UsageError(f"port {port} is not a port (0-65535)")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise UsageError(f"host {host} is not an address of this machine ({error.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        if family == socket.AF_INET6 and host.strip("[]") in {"::", ""}:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # As uvicorn does: a port left in TIME_WAIT by a server just stopped may be bound again. Linux
        # still refuses a port another socket listens on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise InpaintError(f"port {port} on {host} is already in use; choose another port") from None
        if error.errno == errno.EACCES:
            raise InpaintError(f"port {port} on {host} is not allowed to this user; choose one above 1023") from None
        raise InpaintError(f"cannot listen on {host}:{port} ({error.strerror or error})") from None
    sock.set_inheritable(True)
    return sock


def address_of(sock: socket.socket, host: str) -> str:
    """The page's address for a bound socket (with the port the system chose for --port 0)."""
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in {"0.0.0.0", "localhost"} else "[::1]" if host.strip("[]") == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def serve(config: ServeConfig, on_line: Callable[[str], None], on_warning: Callable[[str], None]) -> None:
    """Load the model, bind the port, print the address and serve until Ctrl-C (which raises KeyboardInterrupt).

    A model that cannot load or a busy port raises InpaintError before anything is served.
    """
    import uvicorn

    if not is_loopback(config.host):
        on_warning(
            f"serving on {config.host}: anyone who can reach this machine on the network can use the page and the API"
        )
    pixel_limit = images.max_pixels_allowed(config.max_pixels)
    if pixel_limit < 1:
        raise UsageError(f"the pixel limit {pixel_limit} must be at least 1")
    predictor = runtime.load_predictor(config.model)
    sock = bind(config.host, config.port)
    hosts = sorted(LOOPBACK_NAMES | {config.host.strip("[]")}) if is_loopback(config.host) else None
    app = create_app(
        predictor, max_body_bytes=config.max_body_bytes, max_pixels=pixel_limit, allowed_hosts=hosts, on_fill=on_line
    )
    address = address_of(sock, config.host)
    on_line(f"Serving the inpaint page on {address} (Ctrl-C stops)")
    if config.open_browser:
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(address,), daemon=True).start()
    # The multipart parser logs each malformed body it meets; the client's 400 says it, the log need not.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=3)
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
