"""The least time a fill of one hole in a 12 MP JPEG can take with this project's stack, against Pillow alone.

A bare script (FLOOR_SCRIPT), run as a fresh process, does only what any `inpaint fill` must:
start Python, import Typer (the CLI), NumPy and LiteRT, load the bundled model.tflite, decode the
JPEG in a thread while those load, run the network once on each of two 128 px windows (no
mirror, no argument checks, no masks, no metadata), paste the result and encode the JPEG with
the source's quality. Compared in one run with fill_speed.py's (a), Pillow decoding and
re-encoding the same file in a Python that does nothing else, and (c), the real `inpaint fill`.

Usage: python benchmarks/fill_floor.py [PHOTO] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from fill_speed import DEFAULT_PHOTO, fill_command, make_photo, round_trip_in_own_process, run_checked, timed

from inpaint_cli.model import model_folder

FLOOR_SCRIPT = """
import os, sys, threading
import typer
from PIL import Image
photo, target, model = sys.argv[1:4]
image = Image.open(photo)
image.decodermaxblock = 1 << 26
decode = threading.Thread(target=image.load)
decode.start()
import numpy as np
from ai_edge_litert.interpreter import Interpreter
interpreter = Interpreter(model_path=model, num_threads=os.cpu_count())
interpreter.allocate_tensors()
decode.join()
x, y = image.width // 2, image.height // 2
for side in (288, 576):
    window = image.crop((x - side // 2, y - side // 2, x + side // 2, y + side // 2)).resize((128, 128))
    pixels = np.asarray(window, dtype=np.float32) / 255
    batch = np.concatenate([pixels, np.zeros((128, 128, 1), np.float32)], -1)[None]
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0, ..., :3]
patch = Image.fromarray((out * 255).astype(np.uint8)).resize((96, 96))
image.paste(patch, (x - 48, y - 48))
image.save(target, format="JPEG", quality="keep", subsampling="keep")
os._exit(0)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", type=Path, default=DEFAULT_PHOTO, help="Photo to upscale to 12 MP.")
    parser.add_argument("--repeats", type=int, default=7, help="Runs of each; the best and the median count.")
    args = parser.parse_args()
    model = model_folder.bundled_model_path() / model_folder.LITERT_FILE
    with tempfile.TemporaryDirectory() as folder:
        photo = make_photo(args.photo, Path(folder) / "photo_12mp.jpg")
        pillow = round_trip_in_own_process(photo, Path(folder) / "pillow.jpg", args.repeats, warm=False)
        floor_command = [sys.executable, "-c", FLOOR_SCRIPT, str(photo), str(Path(folder) / "floor.jpg"), str(model)]
        floor = timed(lambda: run_checked(floor_command), args.repeats)
        fill = timed(lambda: run_checked(fill_command(photo, Path(folder) / "filled.jpg", None)), args.repeats)
    rows = (("(a) pillow, in process", pillow), ("bare floor script", floor), ("(c) inpaint fill", fill))
    for name, seconds in rows:
        best, median = min(seconds), statistics.median(seconds)
        print(f"{name:<24} best {best:6.3f} s  median {median:6.3f} s  ratio to (a) {best / min(pillow):5.2f}")


if __name__ == "__main__":
    main()
