"""Folder runs on every core (--jobs) and on a Dask cluster (--cluster): the same bytes, reports and stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import landscape, takes_ctrl_c
from PIL import Image
from typer.testing import CliRunner

from inpaint_cli.cli import app
from inpaint_cli.stages import cluster_fill

pytestmark = pytest.mark.slow  # starts worker processes
runner = CliRunner()
BOX = ["--box", "20,16,32"]


def make_photos(folder: Path, count: int, height: int, width: int) -> Path:
    """count generated photos, PNG and JPEG, two in a sub-folder."""
    (folder / "sub").mkdir(parents=True)
    for index in range(count):
        target = folder / "sub" if index % 10 == 9 else folder
        Image.fromarray(landscape(height, width, index)).save(target / f"p{index:02d}.{'jpg' if index % 3 else 'png'}")
    return folder


def contents(folder: Path) -> dict[str, bytes]:
    """Every file under folder (hidden ones too) by relative path, with its bytes."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def twenty_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_photos(tmp_path_factory.mktemp("twenty") / "photos", 20, 96, 128)


@pytest.fixture(scope="module")
def filled_here(twenty_photos: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The outputs of a one-process run of the twenty photos."""
    out = tmp_path_factory.mktemp("here") / "out"
    result = runner.invoke(app, ["fill", str(twenty_photos), *BOX, "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert len(contents(out)) == 20
    return contents(out)


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[object]:
    """A Dask LocalCluster of two worker processes, one thread each, on 127.0.0.1 only."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as running:
        yield running


def test_jobs_2_writes_the_same_bytes_and_reports_as_one_process(
    twenty_photos: Path, filled_here: dict[str, bytes], tmp_path: Path
) -> None:
    here = runner.invoke(app, ["fill", str(twenty_photos), *BOX, "--out-dir", str(tmp_path / "one")])
    result = runner.invoke(app, ["fill", str(twenty_photos), *BOX, "--out-dir", str(tmp_path / "two"), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    assert contents(tmp_path / "two") == filled_here
    assert result.output.replace("/two/", "/one/") == here.output  # the same lines, in the same order


def test_the_cluster_writes_the_same_bytes_as_one_process(
    twenty_photos: Path, filled_here: dict[str, bytes], local_cluster: object, tmp_path: Path
) -> None:
    address = local_cluster.scheduler_address
    result = runner.invoke(app, ["fill", str(twenty_photos), *BOX, "--out-dir", str(tmp_path), "--cluster", address])
    assert result.exit_code == 0, result.output
    assert contents(tmp_path) == filled_here
    assert result.output.strip().splitlines()[-1] == "Done: 20 written."
    urls = ["fill", f"file://{twenty_photos}", *BOX, "--out-dir", f"file://{tmp_path}/urls", "--cluster", address]
    assert runner.invoke(app, urls).exit_code == 0
    assert contents(tmp_path / "urls") == filled_here


@pytest.mark.parametrize("where", ["--jobs", "--cluster"])
def test_a_bad_photo_is_reported_and_the_rest_are_written(
    where: str, twenty_photos: Path, local_cluster: object, tmp_path: Path
) -> None:
    folder = make_photos(tmp_path / "photos", 4, 96, 128)
    (folder / "broken.png").write_bytes(b"not a PNG")
    how = ["--jobs", "2"] if where == "--jobs" else ["--cluster", local_cluster.scheduler_address]
    result = runner.invoke(app, ["fill", str(folder), *BOX, "--out-dir", str(tmp_path / "out"), *how])
    assert result.exit_code == 1
    assert f"Error: {folder / 'broken.png'}: " in result.output
    assert result.output.strip().splitlines()[-1] == "Error: 1 of 5 photos failed; 4 written"
    assert len(contents(tmp_path / "out")) == 4


def start_fill(*arguments: str) -> tuple[subprocess.Popen[str], threading.Event, list[str]]:
    """`inpaint fill ARGUMENTS` in its own process group; an event set at its first 'Filled' line; its lines."""
    command = [sys.executable, "-m", "inpaint_cli.cli", "fill", *arguments]
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=takes_ctrl_c
    )
    first_filled, lines = threading.Event(), []

    def read() -> None:
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if line.startswith("Filled"):
                first_filled.set()
        first_filled.set()

    threading.Thread(target=read, daemon=True).start()
    return process, first_filled, lines


@pytest.mark.parametrize(
    ("stop", "status", "line"),
    [
        ("Ctrl-C", 130, "Error: interrupted; nothing was left half-written"),
        ("SIGTERM", 143, "Error: terminated; nothing was left half-written"),
    ],
)
def test_jobs_2_stopped_mid_run_leaves_only_whole_files_and_resumes(
    stop: str, status: int, line: str, tmp_path: Path
) -> None:
    folder, out = make_photos(tmp_path / "photos", 24, 480, 640), tmp_path / "out"
    process, first_filled, lines = start_fill(str(folder), *BOX, "--out-dir", str(out), "--jobs", "2")
    try:
        assert first_filled.wait(120)
        if stop == "Ctrl-C":  # a terminal sends it to every process of the group: the workers too
            os.killpg(process.pid, signal.SIGINT)
        else:  # kill, timeout, systemd: to the command alone
            process.send_signal(signal.SIGTERM)
        assert process.wait(60) == status
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert lines[-1] == line
    written = contents(out)
    assert 0 < len(written) < 24
    assert all(not name.split("/")[-1].startswith(".") for name in written)  # no temporary file left
    for name in written:
        with Image.open(out / name) as image:
            image.load()  # whole, not truncated
    resumed = runner.invoke(app, ["fill", str(folder), *BOX, "--out-dir", str(out), "--skip-existing", "--jobs", "2"])
    assert resumed.exit_code == 0, resumed.output
    assert len([name for name in contents(out) if not Path(name).name.startswith(".")]) == 24


def test_killing_a_cluster_worker_mid_run_still_writes_every_photo_once(local_cluster: object, tmp_path: Path) -> None:
    from distributed import Client

    folder = make_photos(tmp_path / "photos", 20, 480, 640)  # large enough that the run lasts seconds
    here = runner.invoke(app, ["fill", str(folder), *BOX, "--out-dir", str(tmp_path / "here")])
    assert here.exit_code == 0, here.output
    address, out = local_cluster.scheduler_address, tmp_path / "out"
    with Client(address) as client:
        worker_pids = list(client.run(os.getpid).values())
    process, first_filled, lines = start_fill(str(folder), *BOX, "--out-dir", str(out), "--cluster", address)
    try:
        assert first_filled.wait(120)
        os.kill(worker_pids[0], signal.SIGKILL)  # mid-run: the cluster retries its photo on the other worker
        assert sum(line.startswith("Filled") for line in list(lines)) < 20, lines  # the kill came before the end
        assert process.wait(180) == 0, lines
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert "Done: 20 written." in lines, lines
    assert contents(out) == contents(tmp_path / "here")  # each photo once, the same bytes, no part file left


def test_a_worker_killed_after_writing_its_photo_leaves_the_retry_to_own_that_file(
    twenty_photos: Path, filled_here: dict[str, bytes], local_cluster: object, tmp_path: Path
) -> None:
    """The window the test above can only hit by chance: the result written, the worker gone before the outcome."""
    from distributed import Client

    from inpaint_cli.inpainting.rectangles import Box

    photo = sorted(twenty_photos.glob("*.png"))[0]
    target, died = tmp_path / "out" / f"{photo.stem}.filled.png", tmp_path / "died"

    def fill_then_die_once(task: cluster_fill.PhotoTask, shared: cluster_fill.ClusterFill) -> object:
        outcome = cluster_fill.fill_photo(task, shared)
        if not died.exists():
            died.touch()
            os.kill(os.getpid(), signal.SIGKILL)  # the scheduler retries the task on a worker that lives
        return outcome

    task, shared = cluster_fill.PhotoTask(str(photo), str(target)), cluster_fill.ClusterFill((Box(20, 16, 32),))
    with Client(local_cluster.scheduler_address) as client:
        outcome = client.submit(fill_then_die_once, task, shared, pure=False).result(timeout=180)
    assert died.exists()  # the first attempt wrote the file and died
    assert (outcome.error, outcome.skipped) == (None, None)
    assert target.read_bytes() == filled_here[target.name]


def test_the_cluster_keeps_an_output_that_was_there_before_the_run(
    twenty_photos: Path, local_cluster: object, tmp_path: Path
) -> None:
    photo = sorted(twenty_photos.glob("*.png"))[0]
    kept = tmp_path / f"{photo.stem}.filled.png"
    kept.write_bytes(b"the user's own")
    address = local_cluster.scheduler_address
    result = runner.invoke(app, ["fill", str(photo), *BOX, "--out-dir", str(tmp_path), "--cluster", address])
    assert result.exit_code == 1
    assert f"{kept} already exists" in result.output
    assert kept.read_bytes() == b"the user's own"


def test_fill_pairs_keeps_an_existing_output_inside_a_partition_that_wrote_another(
    twenty_photos: Path, local_cluster: object, tmp_path: Path
) -> None:
    """One task fills a whole partition: what it recorded for one output says nothing of the next."""
    import dask.bag
    from distributed import Client

    from inpaint_cli.inpainting.rectangles import Box

    photos = sorted(twenty_photos.glob("*.png"))[:3]
    kept = tmp_path / f"{photos[1].stem}.filled.png"
    kept.write_bytes(b"the user's own")
    bag = dask.bag.from_sequence([(str(photo), None) for photo in photos], npartitions=1)
    with Client(local_cluster.scheduler_address):
        outcomes = cluster_fill.fill_pairs(bag, str(tmp_path), boxes=[Box(20, 16, 32)]).compute()
    assert [outcome.error is None for outcome in outcomes] == [True, False, True]
    assert "already exists" in str(outcomes[1].error)
    assert kept.read_bytes() == b"the user's own"


def test_fill_pairs_fills_a_list_or_a_bag_inside_a_dask_pipeline(
    twenty_photos: Path, filled_here: dict[str, bytes], local_cluster: object, tmp_path: Path
) -> None:
    import dask.bag
    from distributed import Client

    from inpaint_cli.inpainting.rectangles import Box

    photos = sorted(twenty_photos.glob("*.png"))[:3]
    pairs = [(str(photo), None) for photo in photos]
    with Client(local_cluster.scheduler_address):
        outcomes = cluster_fill.fill_pairs(pairs, str(tmp_path / "list"), boxes=[Box(20, 16, 32)])
        bag = cluster_fill.fill_pairs(dask.bag.from_sequence(pairs), str(tmp_path / "bag"), boxes=[Box(20, 16, 32)])
        from_bag = bag.compute()
    assert [outcome.error for outcome in outcomes + from_bag] == [None] * 6
    for folder in ("list", "bag"):
        for photo in photos:
            assert (tmp_path / folder / f"{photo.stem}.filled.png").read_bytes() == filled_here[
                f"{photo.stem}.filled.png"
            ]


NO_DASK_WITHOUT_CLUSTER = """
import sys
from typer.testing import CliRunner
from inpaint_cli.cli import app
result = CliRunner().invoke(app, ["fill", *sys.argv[1:]])
print(result.exit_code, sorted({name.split(".")[0] for name in sys.modules} & {"dask", "distributed", "fsspec"}))
"""


def test_nothing_of_dask_is_imported_without_cluster(twenty_photos: Path, tmp_path: Path) -> None:
    arguments = [str(twenty_photos), *BOX, "--out-dir", str(tmp_path), "--jobs", "2"]
    result = subprocess.run(
        [sys.executable, "-c", NO_DASK_WITHOUT_CLUSTER, *arguments], capture_output=True, text=True, timeout=300
    )
    assert result.stdout.split("\n")[0] == "0 []", result.stderr


def test_a_jobs_worker_killed_mid_run_fails_only_its_photo(tmp_path: Path) -> None:
    import psutil

    folder, out = make_photos(tmp_path / "photos", 24, 480, 640), tmp_path / "out"
    process, first_filled, lines = start_fill(str(folder), *BOX, "--out-dir", str(out), "--jobs", "2")
    try:
        assert first_filled.wait(120)
        workers = [child for child in psutil.Process(process.pid).children() if "spawn_main" in str(child.cmdline())]
        assert len(workers) == 2
        workers[0].kill()
        assert process.wait(120) == 1
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert sum("the worker process filling it died (exit status -9)" in line for line in lines) == 1
    assert lines[-1] == "Error: 1 of 24 photos failed; 23 written"
    # SIGKILL allows no cleanup: a worker killed while writing may leave its hidden temporary file, never a photo.
    assert len([name for name in contents(out) if not Path(name).name.startswith(".")]) == 23
    resumed = runner.invoke(app, ["fill", str(folder), *BOX, "--out-dir", str(out), "--skip-existing", "--jobs", "2"])
    assert resumed.exit_code == 0, resumed.output
    assert len([name for name in contents(out) if not Path(name).name.startswith(".")]) == 24


def test_the_cluster_submits_a_few_photos_at_a_time_when_asked(
    twenty_photos: Path, filled_here: dict[str, bytes], local_cluster: object, tmp_path: Path
) -> None:
    from inpaint_cli.inpainting.rectangles import Box
    from inpaint_cli.stages.filling import FillRequest

    request = FillRequest([twenty_photos], [Box(20, 16, 32)], out_dir=tmp_path)
    reports = []
    outcomes = cluster_fill.fill_on_cluster(
        local_cluster.scheduler_address, request, on_photo=lambda *report: reports.append(report), in_flight=3
    )
    assert [outcome.error for outcome in outcomes] == [None] * 20
    assert [done for _, done, _ in reports] == list(range(1, 21))
    assert contents(tmp_path) == filled_here
