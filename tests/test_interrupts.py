"""SIGTERM (kill, timeout, systemd, a container stopping) ends a fill as Ctrl-C does: one line, nothing half-written."""

import subprocess
import sys
from pathlib import Path

from conftest import landscape
from PIL import Image

# Runs `inpaint fill` with the second photo's write interrupted by SIGTERM sent to the process itself,
# half-way through writing its temporary file: where a real `kill` lands during a folder run.
TERMINATED_WHILE_WRITING = """
import os, signal, sys
from pathlib import Path
from inpaint_cli.files import atomic_files, photo_writing
from inpaint_cli.cli import run

save_photo = photo_writing.save_photo

def terminated_while_writing_the_second(image, path, *arguments, **options):
    if path.name != "photo1.filled.png":
        return save_photo(image, path, *arguments, **options)

    def write_half(temporary):
        temporary.write_bytes(b"half a PNG")
        os.kill(os.getpid(), signal.SIGTERM)

    atomic_files.write_atomically(path, write_half)

photo_writing.save_photo = terminated_while_writing_the_second
sys.argv[0] = "inpaint"
run()
"""


def test_sigterm_in_a_folder_run_leaves_nothing_half_written_exit_143(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder, out = tmp_path / "photos", tmp_path / "out"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(landscape(40, 48, seed=index)).save(folder / f"photo{index}.png")
    arguments = ["fill", str(folder), "--model", str(tiny_model_dir), "--box", "4,4,10", "--out-dir", str(out)]
    result = subprocess.run(
        [sys.executable, "-c", TERMINATED_WHILE_WRITING, *arguments], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 143
    assert result.stderr.strip().splitlines()[-1] == "Error: terminated; nothing was left half-written"
    assert sorted(path.name for path in out.iterdir()) == ["photo0.filled.png"]  # the third was never started


def test_a_process_exiting_at_once_removes_the_temporary_file_it_was_writing(tmp_path: Path) -> None:
    # What a fill worker does on SIGTERM (worker_pool._serve): the signal can come before the write's own
    # `finally`, so the file being written must be known to the process, not only to the writing frame.
    from inpaint_cli.files import atomic_files

    seen: list[Path] = []

    def write_then_stop(temporary: Path) -> None:
        temporary.write_text("half")
        seen.append(temporary)
        atomic_files.remove_unfinished()  # as the worker does before os._exit
        assert not temporary.exists()
        raise OSError("stopped")

    try:
        atomic_files.write_atomically(tmp_path / "photo.txt", write_then_stop)
    except atomic_files.InpaintError:
        pass
    assert len(seen) == 1 and list(tmp_path.iterdir()) == []
