// The inpaint page: open a photo, brush over what should go, fill through POST /api/fill, download.
// Plain JavaScript and a canvas; nothing is loaded from anywhere but this server.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const view = $("view");
  const ctx = view.getContext("2d");
  const stage = $("stage");
  const MASK_COLOUR = "rgb(255, 40, 90)";
  const MASK_ALPHA = 0.5;

  const state = {
    info: { max_pixels: Infinity, max_body_bytes: Infinity },
    photo: null, // {name, blob, bitmap, width, height}: the photo as opened
    ops: [], // history: {type: "stroke", erase, width, points} | {type: "clear"} | {type: "fill", blob, bitmap, name}
    cursor: 0, // ops[0..cursor) are applied
    mask: null, // full-resolution canvas of the painted area (opaque where painted)
    zoom: 1,
    panX: 0,
    panY: 0,
    tool: "brush",
    size: 40, // brush diameter in screen pixels
    pointer: null, // last pointer position over the canvas, screen pixels
    stroke: null, // the stroke being painted
    pan: null, // {x, y} while panning
    spaceHeld: false,
    before: false,
    busy: false,
  };

  // --- messages -------------------------------------------------------------------------------------

  function say(text, kind = "") {
    const line = $("message");
    line.textContent = text;
    line.className = kind;
    line.title = text;
  }

  function showDetails() {
    const photo = state.photo;
    $("details").textContent = photo ? `${photo.name} · ${photo.width}×${photo.height}` : "";
    $("zoom-value").textContent = `${Math.round(state.zoom * 100)}%`;
  }

  async function errorOf(response) {
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") return body.error;
    } catch (_) {
      /* not JSON: fall through */
    }
    return `the server answered ${response.status} ${response.statusText}`;
  }

  const SERVER_GONE = "The server did not answer: is `inpaint serve` still running?";

  // --- the current image and the mask, from the history ---------------------------------------------

  function lastFill(upTo = state.cursor) {
    for (let index = upTo - 1; index >= 0; index -= 1) {
      if (state.ops[index].type === "fill") return index;
    }
    return -1;
  }

  function current() {
    const index = lastFill();
    return index >= 0 ? state.ops[index] : null;
  }

  function currentBitmap() {
    const fill = current();
    return fill ? fill.bitmap : state.photo.bitmap;
  }

  function drawStroke(op, from = 0) {
    const mask = state.mask.getContext("2d");
    mask.save();
    mask.globalCompositeOperation = op.erase ? "destination-out" : "source-over";
    mask.strokeStyle = mask.fillStyle = MASK_COLOUR;
    mask.lineWidth = op.width;
    mask.lineCap = mask.lineJoin = "round";
    const points = op.points;
    if (points.length === 1 || from === 0) {
      const [x, y] = points[0];
      mask.beginPath();
      mask.arc(x, y, op.width / 2, 0, 2 * Math.PI);
      mask.fill();
    }
    if (points.length > 1) {
      mask.beginPath();
      const start = Math.max(0, from - 1);
      mask.moveTo(points[start][0], points[start][1]);
      for (let index = start + 1; index < points.length; index += 1) mask.lineTo(points[index][0], points[index][1]);
      mask.stroke();
    }
    mask.restore();
  }

  function replay() {
    const mask = state.mask.getContext("2d");
    mask.clearRect(0, 0, state.mask.width, state.mask.height);
    for (let index = lastFill() + 1; index < state.cursor; index += 1) {
      const op = state.ops[index];
      if (op.type === "stroke") drawStroke(op);
      else if (op.type === "clear") mask.clearRect(0, 0, state.mask.width, state.mask.height);
    }
    updateControls();
    render();
  }

  function painted() {
    // Whether the history since the last fill leaves something painted (an eraser may still have removed it all).
    let paint = false;
    for (let index = lastFill() + 1; index < state.cursor; index += 1) {
      const op = state.ops[index];
      if (op.type === "clear") paint = false;
      else if (op.type === "stroke" && !op.erase) paint = true;
    }
    return paint;
  }

  function push(op) {
    state.ops.splice(state.cursor);
    state.ops.push(op);
    state.cursor = state.ops.length;
  }

  function undo() {
    if (state.busy || state.stroke || state.cursor === 0) return;
    state.cursor -= 1;
    replay();
  }

  function redo() {
    if (state.busy || state.stroke || state.cursor >= state.ops.length) return;
    state.cursor += 1;
    replay();
  }

  function clearMask() {
    if (state.busy || !painted()) return;
    push({ type: "clear" });
    replay();
  }

  // --- drawing the view -----------------------------------------------------------------------------

  let frame = 0;
  function render() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function draw() {
    frame = 0;
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, view.width, view.height);
    if (!state.photo) return;
    // Where the photo lies on the canvas (CSS pixels), for scripts and tests that paint on it.
    view.dataset.zoom = String(state.zoom);
    view.dataset.pan = `${state.panX},${state.panY}`;
    ctx.setTransform(ratio * state.zoom, 0, 0, ratio * state.zoom, ratio * state.panX, ratio * state.panY);
    ctx.imageSmoothingEnabled = state.zoom < 2;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(state.before ? state.photo.bitmap : currentBitmap(), 0, 0);
    if (!state.before) {
      ctx.globalAlpha = MASK_ALPHA;
      ctx.drawImage(state.mask, 0, 0);
      ctx.globalAlpha = 1;
    }
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    if (state.pointer && !state.pan && !state.before && !state.busy && !state.spaceHeld) {
      const { x, y } = state.pointer;
      ctx.beginPath();
      ctx.arc(x, y, state.size / 2, 0, 2 * Math.PI);
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = "rgba(0, 0, 0, 0.6)";
      ctx.stroke();
      ctx.beginPath();
      ctx.arc(x, y, Math.max(1, state.size / 2 - 1.5), 0, 2 * Math.PI);
      ctx.strokeStyle = state.tool === "eraser" ? "rgba(255, 255, 255, 0.9)" : "rgba(255, 200, 210, 0.95)";
      ctx.stroke();
    }
  }

  function resize() {
    const ratio = window.devicePixelRatio || 1;
    view.width = Math.max(1, Math.round(stage.clientWidth * ratio));
    view.height = Math.max(1, Math.round(stage.clientHeight * ratio));
    render();
  }

  // --- zoom and pan ---------------------------------------------------------------------------------

  function fit() {
    if (!state.photo) return;
    const margin = 24;
    const width = Math.max(1, stage.clientWidth - 2 * margin);
    const height = Math.max(1, stage.clientHeight - 2 * margin);
    state.zoom = Math.min(width / state.photo.width, height / state.photo.height);
    state.panX = (stage.clientWidth - state.photo.width * state.zoom) / 2;
    state.panY = (stage.clientHeight - state.photo.height * state.zoom) / 2;
    showDetails();
    render();
  }

  function zoomAt(x, y, factor) {
    if (!state.photo) return;
    const zoom = Math.min(32, Math.max(0.01, state.zoom * factor));
    state.panX = x - ((x - state.panX) * zoom) / state.zoom;
    state.panY = y - ((y - state.panY) * zoom) / state.zoom;
    state.zoom = zoom;
    showDetails();
    render();
  }

  function zoomCentre(factor) {
    zoomAt(stage.clientWidth / 2, stage.clientHeight / 2, factor);
  }

  function screenPoint(event) {
    const box = view.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  function imagePoint(point) {
    return [(point.x - state.panX) / state.zoom, (point.y - state.panY) / state.zoom];
  }

  // --- painting -------------------------------------------------------------------------------------

  function canPaint() {
    return state.photo && !state.busy && !state.before;
  }

  view.addEventListener("pointerdown", (event) => {
    if (!state.photo) return;
    const point = screenPoint(event);
    state.pointer = point;
    if (event.button === 1 || event.button === 2 || (event.button === 0 && state.spaceHeld)) {
      state.pan = point;
      view.classList.add("panning");
      view.setPointerCapture(event.pointerId);
      event.preventDefault();
      return;
    }
    if (event.button !== 0 || !canPaint()) return;
    view.setPointerCapture(event.pointerId);
    state.stroke = { type: "stroke", erase: state.tool === "eraser", width: state.size / state.zoom, points: [imagePoint(point)] };
    drawStroke(state.stroke);
    render();
    event.preventDefault();
  });

  view.addEventListener("pointermove", (event) => {
    const point = screenPoint(event);
    state.pointer = point;
    if (state.pan) {
      state.panX += point.x - state.pan.x;
      state.panY += point.y - state.pan.y;
      state.pan = point;
    } else if (state.stroke) {
      const from = state.stroke.points.length;
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      for (const each of events.length ? events : [event]) state.stroke.points.push(imagePoint(screenPoint(each)));
      drawStroke(state.stroke, from);
    }
    render();
  });

  function endPointer(event) {
    if (state.pan) {
      state.pan = null;
      view.classList.remove("panning");
    }
    if (state.stroke) {
      push(state.stroke);
      state.stroke = null;
      updateControls();
    }
    if (view.hasPointerCapture(event.pointerId)) view.releasePointerCapture(event.pointerId);
    render();
  }

  view.addEventListener("pointerup", endPointer);
  view.addEventListener("pointercancel", endPointer);
  view.addEventListener("pointerleave", () => {
    state.pointer = null;
    render();
  });
  view.addEventListener("contextmenu", (event) => event.preventDefault());
  view.addEventListener(
    "wheel",
    (event) => {
      if (!state.photo) return;
      event.preventDefault();
      const point = screenPoint(event);
      const lines = event.deltaMode === 1 ? 40 : 1;
      zoomAt(point.x, point.y, Math.exp(-event.deltaY * lines * 0.0015));
    },
    { passive: false },
  );

  function setSize(size) {
    state.size = Math.round(Math.min(300, Math.max(4, size)));
    $("size").value = String(state.size);
    $("size-value").textContent = String(state.size);
    render();
  }

  function setTool(tool) {
    state.tool = tool;
    $("brush").setAttribute("aria-pressed", String(tool === "brush"));
    $("eraser").setAttribute("aria-pressed", String(tool === "eraser"));
    render();
  }

  function setBefore(before) {
    state.before = before && !!state.photo;
    $("before").setAttribute("aria-pressed", String(state.before));
    view.classList.toggle("painting", !state.before);
    render();
  }

  // --- opening a photo ------------------------------------------------------------------------------

  async function decode(blob, name) {
    // The page must show the pixels the server fills, upright as `fill` turns them. Every browser applies
    // a JPEG's EXIF orientation, as the server does; a WebP's or a PNG's some ignore (Chromium a WebP's).
    // So a non-JPEG carrying EXIF, and what the browser cannot read (TIFF), is shown as the server decodes it.
    if (!(await carriesExifOutsideJpeg(blob))) {
      try {
        return await createImageBitmap(blob);
      } catch (_) {
        /* a format this browser cannot decode: the server's decoder below */
      }
    }
    const form = new FormData();
    form.append("image", blob, name);
    let response;
    try {
      response = await fetch("/api/preview", { method: "POST", body: form });
    } catch (_) {
      throw new Error(SERVER_GONE);
    }
    if (!response.ok) throw new Error(await errorOf(response));
    return createImageBitmap(await response.blob());
  }

  async function carriesExifOutsideJpeg(blob) {
    // Whether blob is a WebP with an EXIF chunk or a PNG with an eXIf chunk: where its orientation may lie.
    const bytes = new Uint8Array(await blob.arrayBuffer());
    const data = new DataView(bytes.buffer);
    const tag = (at) => String.fromCharCode(...bytes.subarray(at, at + 4));
    if (bytes.length >= 12 && tag(0) === "RIFF" && tag(8) === "WEBP") {
      for (let at = 12; at + 8 <= bytes.length; ) {
        if (tag(at) === "EXIF") return true;
        const size = data.getUint32(at + 4, true);
        at += 8 + size + (size % 2); // chunks are padded to an even size
      }
    } else if (bytes.length >= 8 && data.getUint32(0) === 0x89504e47) {
      for (let at = 8; at + 8 <= bytes.length; at += 12 + data.getUint32(at)) {
        if (tag(at + 4) === "eXIf") return true; // length, type, data, CRC
      }
    }
    return false;
  }

  async function openFile(file) {
    if (!file || state.busy) return;
    if (file.size > state.info.max_body_bytes) {
      say(`${file.name} is ${(file.size / 2 ** 20).toFixed(0)} MB, over the server's limit of ${(state.info.max_body_bytes / 2 ** 20).toFixed(0)} MB`, "error");
      return;
    }
    setBusy(true, "Opening…");
    try {
      const bitmap = await decode(file, file.name);
      const pixels = bitmap.width * bitmap.height;
      if (pixels > state.info.max_pixels) {
        bitmap.close();
        say(`${file.name} has ${bitmap.width}×${bitmap.height} = ${pixels.toLocaleString("en")} pixels, over the server's limit of ${state.info.max_pixels.toLocaleString("en")} (inpaint serve --max-pixels)`, "error");
        return;
      }
      if (state.photo) state.photo.bitmap.close();
      state.photo = { name: file.name, blob: file, bitmap, width: bitmap.width, height: bitmap.height };
      state.ops = [];
      state.cursor = 0;
      state.mask = document.createElement("canvas");
      state.mask.width = bitmap.width;
      state.mask.height = bitmap.height;
      $("empty").hidden = true;
      setBefore(false);
      fit();
      replay();
      say(`Opened ${file.name}. Brush over what should go, then Fill.`);
    } catch (error) {
      const named = error.message.startsWith("The server") || error.message.includes(file.name);
      say(named ? error.message : `${file.name}: ${error.message}`, "error");
    } finally {
      setBusy(false);
    }
  }

  // --- filling --------------------------------------------------------------------------------------

  function maskBlob() {
    // White where painted, black elsewhere, at the photo's full size: the API's mask.
    const canvas = document.createElement("canvas");
    canvas.width = state.mask.width;
    canvas.height = state.mask.height;
    const out = canvas.getContext("2d");
    out.drawImage(state.mask, 0, 0);
    out.globalCompositeOperation = "source-in";
    out.fillStyle = "#fff";
    out.fillRect(0, 0, canvas.width, canvas.height);
    out.globalCompositeOperation = "destination-over";
    out.fillStyle = "#000";
    out.fillRect(0, 0, canvas.width, canvas.height);
    return new Promise((resolve, reject) =>
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the mask could not be encoded"))), "image/png"),
    );
  }

  function filledName(name, served) {
    if (served) return served;
    const dot = name.lastIndexOf(".");
    return dot > 0 ? `${name.slice(0, dot)}.filled${name.slice(dot)}` : `${name}.filled`;
  }

  function servedName(response) {
    const header = response.headers.get("Content-Disposition") || "";
    const match = /filename\*=UTF-8''([^;]+)/i.exec(header);
    return match ? decodeURIComponent(match[1]) : null;
  }

  async function fill() {
    if (!state.photo || state.busy || !painted()) return;
    setBefore(false);
    setBusy(true, "Filling…");
    const started = performance.now();
    try {
      const fillOp = current();
      const form = new FormData();
      form.append("image", fillOp ? fillOp.blob : state.photo.blob, state.photo.name);
      form.append("mask", await maskBlob(), "mask.png");
      if ($("smooth").checked) form.append("smooth", "1");
      let response;
      try {
        response = await fetch("/api/fill", { method: "POST", body: form });
      } catch (_) {
        say(SERVER_GONE, "error");
        return;
      }
      if (!response.ok) {
        say(await errorOf(response), "error");
        return;
      }
      const blob = await response.blob();
      const name = filledName(state.photo.name, servedName(response));
      const bitmap = await decode(blob, name);
      push({ type: "fill", blob, bitmap, name });
      replay();
      let warnings = [];
      try {
        warnings = JSON.parse(response.headers.get("X-Inpaint-Warnings") || "[]");
      } catch (_) {
        warnings = [];
      }
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      say(warnings.length ? `Filled in ${seconds} s. Note: ${warnings.join("; ")}` : `Filled in ${seconds} s. Paint again to fill more, or download.`, "ok");
    } catch (error) {
      say(error.message, "error");
    } finally {
      setBusy(false);
    }
  }

  // --- controls -------------------------------------------------------------------------------------

  let downloadUrl = null;

  function updateControls() {
    const open = !!state.photo;
    const idle = !state.busy;
    $("undo").disabled = !(open && idle && state.cursor > 0);
    $("redo").disabled = !(open && idle && state.cursor < state.ops.length);
    $("clear").disabled = !(open && idle && painted());
    $("fill").disabled = !(open && idle && painted());
    for (const id of ["zoom-in", "zoom-out", "zoom-fit", "before"]) $(id).disabled = !open;
    const result = open ? current() : null;
    const link = $("download");
    if (downloadUrl && (!result || link.dataset.blob !== result.url)) {
      link.removeAttribute("href");
    }
    if (result) {
      if (!result.url) result.url = URL.createObjectURL(result.blob);
      downloadUrl = result.url;
      link.href = result.url;
      link.download = result.name;
      link.dataset.blob = result.url;
      link.setAttribute("aria-disabled", String(!idle));
      link.title = `Download ${result.name}`;
    } else {
      link.setAttribute("aria-disabled", "true");
      link.title = "Fill first, then download the result";
    }
  }

  function setBusy(busy, text = "") {
    state.busy = busy;
    $("busy").hidden = !busy;
    $("busy-text").textContent = text;
    $("fill").textContent = busy && text.startsWith("Filling") ? "Filling…" : "Fill";
    document.body.setAttribute("aria-busy", String(busy));
    updateControls();
    render();
  }

  $("file").addEventListener("change", (event) => {
    openFile(event.target.files[0]);
    event.target.value = "";
  });
  $("brush").addEventListener("click", () => setTool("brush"));
  $("eraser").addEventListener("click", () => setTool("eraser"));
  $("size").addEventListener("input", (event) => setSize(Number(event.target.value)));
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  $("clear").addEventListener("click", clearMask);
  $("zoom-in").addEventListener("click", () => zoomCentre(1.25));
  $("zoom-out").addEventListener("click", () => zoomCentre(0.8));
  $("zoom-fit").addEventListener("click", fit);
  $("before").addEventListener("click", () => setBefore(!state.before));
  $("fill").addEventListener("click", fill);

  window.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.type !== "range" && event.target.type !== "checkbox") return;
    const key = event.key;
    const command = event.ctrlKey || event.metaKey;
    if (command && key.toLowerCase() === "z") {
      event.shiftKey ? redo() : undo();
    } else if (command && key.toLowerCase() === "y") {
      redo();
    } else if (command && key.toLowerCase() === "o") {
      $("file").click();
    } else if (command) {
      return;
    } else if (key === "[") {
      setSize(state.size / 1.15 - 1);
    } else if (key === "]") {
      setSize(state.size * 1.15 + 1);
    } else if (key === "b") {
      setTool("brush");
    } else if (key === "e") {
      setTool("eraser");
    } else if (key === "+" || key === "=") {
      zoomCentre(1.25);
    } else if (key === "-") {
      zoomCentre(0.8);
    } else if (key === "0") {
      fit();
    } else if (key === "\\") {
      setBefore(true); // while held: the photo as opened
    } else if (key === "Enter") {
      fill();
    } else if (key === " ") {
      state.spaceHeld = true;
      view.style.cursor = "grab";
      render();
    } else {
      return;
    }
    event.preventDefault();
  });

  window.addEventListener("keyup", (event) => {
    if (event.key === "\\") setBefore(false);
    if (event.key === " ") {
      state.spaceHeld = false;
      view.style.cursor = "";
      render();
    }
  });

  // Dropping a photo anywhere on the page opens it.
  let dragDepth = 0;
  window.addEventListener("dragenter", (event) => {
    if (![...(event.dataTransfer?.types || [])].includes("Files")) return;
    dragDepth += 1;
    $("drop").hidden = false;
  });
  window.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) $("drop").hidden = true;
  });
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => {
    event.preventDefault();
    dragDepth = 0;
    $("drop").hidden = true;
    openFile(event.dataTransfer?.files?.[0]);
  });

  new ResizeObserver(resize).observe(stage);
  view.classList.add("painting");
  resize();
  updateControls();
  fetch("/api/info")
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(String(response.status)))))
    .then((info) => {
      state.info = info;
      document.title = `inpaint ${info.version}`;
    })
    .catch(() => say(SERVER_GONE, "error"));
})();
