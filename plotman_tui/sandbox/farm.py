"""A sandbox farm: directories, a ``chia`` that really plots (small k), and a config for them.

``make_sandbox`` lays out a plotting machine in one directory::

    root/bin/chia        the chiapos front, installed like a venv's chia script
    root/tmp/0 …         temp dirs            root/tmp2       the shared tmp2 dir
    root/dst/0 …         destination dirs     root/logs       plot logs
    root/plotman.toml    a config for all of the above

``start_plot`` starts one plot job of this farm with :func:`plotman_tui.farm.spawn.start_job` (a
new session, stdout and stderr into a new log file named by its start time).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import plotman_tui
from plotman_tui.appdirs import read_regular_file
from plotman_tui.farm.spawn import start_job
from plotman_tui.sandbox.bech32m import encode_puzzle_hash

CONFIG_NAME = "plotman.toml"
# The most a sandbox file of ours (its config, its chia front) may be before it is refused.
_MAX_FILE_BYTES = 1024 * 1024

# Linux reads at most 255 bytes of a "#!" line (127 before 5.1); longer or spaced interpreter
# paths go through /bin/sh, as pip's launchers do.
_SHEBANG_MAX = 127


def _made_up_bytes(label: str, length: int) -> bytes:
    """Fixed bytes from a label, so the same root always gets the same config."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"plotman-tui sandbox {label} {counter}".encode()).digest()
        counter += 1
    return out[:length]


def _made_up_farmer_pk() -> str:
    key = bytearray(_made_up_bytes("farmer public key", 48))
    # Shaped like a compressed BLS G1 point: top bit set, infinity bit clear.
    key[0] = (key[0] | 0x80) & ~0x40
    return key.hex()


#: The farmer public key and pool contract address every sandbox config uses (made up).
SANDBOX_FARMER_PK = _made_up_farmer_pk()
SANDBOX_POOL_CONTRACT_ADDRESS = encode_puzzle_hash(_made_up_bytes("pool contract", 32))


@dataclass(frozen=True)
class Sandbox:
    """Where a sandbox's parts are, and the plot settings its config holds."""

    root: Path
    bin_dir: Path
    chia: Path
    tmp_dirs: tuple[Path, ...]
    tmp2_dir: Path | None
    dst_dirs: tuple[Path, ...]
    log_dir: Path
    config_path: Path
    k: int = 18
    threads: int = 2
    buckets: int = 16
    buffer_mib: int = 64
    farmer_pk: str = SANDBOX_FARMER_PK
    pool_contract_address: str = SANDBOX_POOL_CONTRACT_ADDRESS
    archive_dirs: tuple[Path, ...] = ()  # a local archive target's dirs (none: no archiving)


@dataclass(frozen=True)
class StartedPlot:
    """A plot job started by ``start_plot``: its process, log file and command line."""

    popen: subprocess.Popen[bytes]
    log_path: Path
    argv: tuple[str, ...]


def _write_if_changed(path: Path, text: str, *, mode: int | None = None) -> None:
    # Written whole and renamed into place, so a reader never sees half a file.
    # A FIFO or a device in its place is an error (OSError), not a hang.
    if path.exists() and read_regular_file(path, _MAX_FILE_BYTES) == text.encode("utf-8"):
        if mode is not None:
            path.chmod(mode)
        return
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    if mode is not None:
        partial.chmod(mode)
    os.replace(partial, path)


def _chia_script() -> str:
    """The text of ``bin/chia``: a venv-style launcher for the chiapos front."""
    interpreter = sys.executable
    # Only needed when plotman_tui is not installed in that interpreter (a bare checkout).
    source_root = str(Path(plotman_tui.__file__).resolve().parent.parent)
    body = (
        "# plotman-tui sandbox: a `chia plots create` that runs the real chiapos plotter.\n"
        "import sys\n"
        "try:\n"
        "    from plotman_tui.sandbox.chia_front import script_main\n"
        "except ImportError:\n"
        f"    sys.path.append({source_root!r})\n"
        "    from plotman_tui.sandbox.chia_front import script_main\n"
        "script_main()\n"
    )
    if len(interpreter) + 2 <= _SHEBANG_MAX and not any(c.isspace() for c in interpreter):
        return f"#!{interpreter}\n{body}"
    # sh runs the exec line; Python sees a string literal. argv ends up the same either way.
    quoted = interpreter.replace("'", "'\"'\"'")
    return f"#!/bin/sh\n'''exec' '{quoted}' \"$0\" \"$@\"\n' '''\n{body}"


def _toml_str(value: str | Path) -> str:
    # A JSON string is a valid TOML basic string (same escapes).
    return json.dumps(str(value), ensure_ascii=False)


def _toml_list(values: tuple[Path, ...]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def _archiving_text(sandbox: Sandbox) -> str:
    if not sandbox.archive_dirs:
        return ""
    return f"""
[archiving]
enabled = true
# Sandbox plots are complete the moment they are renamed into place.
min_plot_age_s = 2

# The "farmer" is a dir of this sandbox: plots are moved there with rsync.
[[archiving.targets]]
name = "sandbox-farmer"
type = "local"
archive_dirs = {_toml_list(sandbox.archive_dirs)}
"""


def _config_text(sandbox: Sandbox, *, global_stagger_m: int, polling_time_s: int) -> str:
    n_tmp = len(sandbox.tmp_dirs)
    tmp2_line = (
        f"tmp2 = {_toml_str(sandbox.tmp2_dir)}"
        if sandbox.tmp2_dir is not None
        else "# tmp2: not used in this sandbox"
    )
    return f"""\
# plotman-tui configuration of a sandbox farm, written by plotman_tui.sandbox.make_sandbox.
# It is rewritten whenever make_sandbox runs on this directory: edit a copy, not this file.
# The plotter is a real chiapos behind a `chia plots create` front, at small k (k18 takes about
# a second, k22 a quarter of a minute), so every path below is inside {_toml_str(sandbox.root)}.

[logging]
# One log file per plot job.
plots = {_toml_str(sandbox.log_dir)}

[directories]
tmp = {_toml_list(sandbox.tmp_dirs)}
{tmp2_line}
dst = {_toml_list(sandbox.dst_dirs)}

[scheduling]
# Start a new job in a tmp dir only when its jobs have reached phase 2:1 ...
tmpdir_stagger_phase_major = 2
tmpdir_stagger_phase_minor = 1
# ... and at most this many of them are before that phase.
tmpdir_stagger_phase_limit = 1
tmpdir_max_jobs = 2
global_max_jobs = {2 * n_tmp}
# Minutes between any two starts; small, because sandbox plots take seconds.
global_stagger_m = {global_stagger_m}
polling_time_s = {polling_time_s}

[plotting]
type = "chia"
# Made-up keys: the sandbox plots are never farmed.
farmer_pk = {_toml_str(sandbox.farmer_pk)}
pool_contract_address = {_toml_str(sandbox.pool_contract_address)}

[plotting.chia]
executable = {_toml_str(sandbox.chia)}
k = {sandbox.k}
n_threads = {sandbox.threads}
# chiapos plots small k only with few buckets (at most 32 at k18).
n_buckets = {sandbox.buckets}
# MiB; plenty for k18..k22.
job_buffer = {sandbox.buffer_mib}
{_archiving_text(sandbox)}"""


def make_sandbox(
    root: Path,
    *,
    n_tmp: int = 2,
    n_dst: int = 2,
    k: int = 18,
    use_tmp2: bool = True,
    threads: int = 2,
    buckets: int = 16,
    buffer_mib: int = 64,
    global_stagger_m: int = 1,
    polling_time_s: int = 5,
    n_archive: int = 0,
) -> Sandbox:
    """Lay out (or refresh) a sandbox farm in ``root`` and return where its parts are.

    Safe to run again on the same root: directories, plots and logs stay; ``bin/chia`` and the
    config are rewritten only when they differ from what these arguments give. ``n_archive``
    dirs under ``archive/`` make a local archive target (archiving on).
    """
    if n_tmp < 1 or n_dst < 0:
        raise ValueError(f"a sandbox needs n_tmp >= 1 and n_dst >= 0, not {n_tmp}, {n_dst}")
    root = root.resolve()
    bin_dir = root / "bin"
    sandbox = Sandbox(
        root=root,
        bin_dir=bin_dir,
        chia=bin_dir / "chia",
        tmp_dirs=tuple(root / "tmp" / str(i) for i in range(n_tmp)),
        tmp2_dir=root / "tmp2" if use_tmp2 else None,
        dst_dirs=tuple(root / "dst" / str(i) for i in range(n_dst)),
        log_dir=root / "logs",
        config_path=root / CONFIG_NAME,
        k=k,
        threads=threads,
        buckets=buckets,
        buffer_mib=buffer_mib,
        archive_dirs=tuple(root / "archive" / str(i) for i in range(n_archive)),
    )
    dirs = [bin_dir, sandbox.log_dir, *sandbox.tmp_dirs, *sandbox.dst_dirs, *sandbox.archive_dirs]
    if sandbox.tmp2_dir is not None:
        dirs.append(sandbox.tmp2_dir)
    for directory in dirs:
        directory.mkdir(parents=True, exist_ok=True)
    _write_if_changed(sandbox.chia, _chia_script(), mode=0o755)
    _write_if_changed(
        sandbox.config_path,
        _config_text(sandbox, global_stagger_m=global_stagger_m, polling_time_s=polling_time_s),
    )
    return sandbox


def plot_argv(
    sandbox: Sandbox,
    *,
    k: int | None = None,
    tmp_index: int = 0,
    dst_index: int = 0,
    use_tmp2: bool = True,
    threads: int = 2,
) -> list[str]:
    """The command line the chia plotter module builds for this job (what plotman-tui runs)."""
    # Imported here: bin/chia imports this package, and a plot job needs none of it.
    from plotman_tui.config.schema import ChiaOptions, PlotterType, PlottingConfig
    from plotman_tui.plotters.chia import PLOTTER

    plotting = PlottingConfig(
        type=PlotterType.CHIA,
        farmer_pk=sandbox.farmer_pk,
        pool_contract_address=sandbox.pool_contract_address,
        chia=ChiaOptions(
            executable=str(sandbox.chia),
            k=sandbox.k if k is None else k,
            n_threads=threads,
            n_buckets=sandbox.buckets,
            job_buffer=sandbox.buffer_mib,
        ),
    )
    tmp_dir = sandbox.tmp_dirs[tmp_index]
    tmp2_dir = sandbox.tmp2_dir if use_tmp2 else None
    # plotman's rule: without dst dirs the plot stays in its tmp dir.
    dst_dir = sandbox.dst_dirs[dst_index] if sandbox.dst_dirs else tmp_dir
    return PLOTTER.build_argv(
        plotting, str(tmp_dir), None if tmp2_dir is None else str(tmp2_dir), str(dst_dir)
    )


def start_plot(
    sandbox: Sandbox,
    *,
    k: int | None = None,
    tmp_index: int = 0,
    dst_index: int = 0,
    use_tmp2: bool = True,
    threads: int = 2,
    log_name: str | None = None,
    nice: int = 15,
) -> StartedPlot:
    """Start one plot job with stdout and stderr into a new log in ``sandbox.log_dir``.

    Started by :func:`plotman_tui.farm.spawn.start_job`: its own session (like plotman's jobs,
    it outlives the caller's terminal and can be signalled as a group), reaped by a background
    thread when it ends; ``popen`` still answers ``poll()`` and ``wait()``. ``nice`` as in
    ``[plotting] nice`` (default 15, as plotman-tui starts real jobs).
    ``FileExistsError`` when ``log_name`` is given and taken.
    """
    argv = plot_argv(
        sandbox, k=k, tmp_index=tmp_index, dst_index=dst_index, use_tmp2=use_tmp2, threads=threads
    )
    job = start_job(argv, sandbox.log_dir, nice=nice, log_name=log_name)
    return StartedPlot(popen=job.popen, log_path=job.log_path, argv=job.argv)
