"""A ``chia plots create`` that runs the real chiapos plotter, for the sandbox farm.

It takes the options of chia 1.2's ``chia plots create`` and writes what that command writes to
standard output: a few lines from chia's Python logging (same format and colours), then the log
chiapos itself prints from C++, then the summary lines. Differences from the real command, all
because the sandbox has no keychain and no chia config:

* the plot id and the master key in the memo are random (chia derives the id from BLS keys);
  without ``-f``/``-p``/``-c`` made-up keys are used instead of the keychain's;
* missing directories are refused (exit status 2) rather than created, so a test can stand in
  for an unplugged disk;
* any k from 18 (the smallest chiapos plots) is accepted, with or without ``--override-k``;
* the stripe size is fitted to k and the bucket count (chiapos' 65536 needs k >= 21 at 16
  buckets), and can be set with ``--stripe_size``;
* bucket counts chiapos cannot plot a small k with (over 32 at k18, over 64 at k19) are refused
  instead of letting the plotter abort.

Exit status: 0 plots made, 1 the plotter failed (its reason is in the log), 2 bad arguments or a
missing directory (one line on standard error). SIGTERM and SIGINT kill it on the spot and leave
the temp files behind, like the real plotter.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import math
import secrets
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from plotman_tui.sandbox.bech32m import decode_puzzle_hash

PROG = "chia"
LOGGER_NAME = "chia.plotting.create_plots"

# chiapos' limits (pos_constants.hpp, plotter_disk.hpp).
MIN_K = 18
MAX_K = 50
MIN_BUCKETS = 16
MAX_BUCKETS = 128
MIN_BUFFER_MIB = 10
DEFAULT_STRIPE = 65536
# chia's min_mainnet_k_size: smaller plots get a warning in the log.
MIN_MAINNET_K = 32

_EXTRA_BITS = 6  # kExtraBits
_OFFSET_SIZE = 10  # kOffsetSize
_VECTOR_LENS = (0, 0, 1, 2, 4, 4, 3, 2)  # kVectorLens
_MEM_SORT_PROPORTION = 0.75  # kMemSortProportion
_MIB = 1024 * 1024

_KEY_BYTES = 48  # a BLS G1 public key
_ID_BYTES = 32
_MASTER_SK_BYTES = 32

_RESET = "\x1b[0m"
_LEVEL_COLOURS = {"INFO": "\x1b[32m", "WARNING": "\x1b[33m"}


class UsageError(Exception):
    """Bad arguments or a missing directory: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    # argparse prints usage plus a message and exits; the house rule is one line, no usage dump.
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


@dataclass(frozen=True)
class CreateArgs:
    """The parsed and checked options of ``chia plots create``."""

    k: int
    num: int
    buffer_mib: int
    threads: int
    buckets: int
    stripe_size: int
    tmp_dir: Path
    tmp2_dir: Path
    final_dir: Path
    farmer_pk: bytes
    pool_pk: bytes | None
    pool_contract_address: str | None
    pool_puzzle_hash: bytes | None
    plot_id: bytes | None
    memo: bytes | None
    nobitfield: bool
    exclude_final_dir: bool


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Sandbox chia: only `chia plots create`.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plots = commands.add_parser("plots", help="plot commands")
    plot_commands = plots.add_subparsers(dest="plots_command", required=True, metavar="COMMAND")
    create = plot_commands.add_parser("create", help="create plots with the chiapos plotter")
    add = create.add_argument
    add("-k", "--size", type=int, default=32, help="plot size (default 32)")
    add("--override-k", action="store_true", help="accepted; any k >= 18 is allowed here")
    add("-n", "--num", type=int, default=1, help="number of plots (default 1)")
    add("-b", "--buffer", type=int, default=3389, help="MiB of memory (default 3389)")
    add("-r", "--num_threads", type=int, default=2, help="threads (default 2)")
    add("-u", "--buckets", type=int, default=128, help="buckets, 0 for automatic (default 128)")
    add("-a", "--alt_fingerprint", type=int, help="accepted and ignored: no keychain here")
    add("-c", "--pool_contract_address", help="pool contract address (xch1…)")
    add("-f", "--farmer_public_key", help="farmer public key, hex (made up when missing)")
    add("-p", "--pool_public_key", help="pool public key, hex (made up when no -p or -c)")
    add("-t", "--tmp_dir", type=Path, default=Path("."), help="temporary directory")
    add("-2", "--tmp2_dir", type=Path, default=None, help="second temporary directory")
    add("-d", "--final_dir", type=Path, default=Path("."), help="final directory")
    add("-i", "--plotid", help="plot id in hex, for debugging")
    add("-m", "--memo", help="memo in hex, for debugging")
    add("-e", "--nobitfield", action="store_true", help="disable bitfield")
    add("-x", "--exclude_final_dir", action="store_true", help="skip adding to the harvester")
    add("--stripe_size", type=int, default=0, help="stripe size, 0 to fit k (sandbox only)")
    return parser


def round_up_pow2(value: int) -> int:
    """chiapos' ``Util::RoundPow2``: the smallest power of two >= value."""
    power = 1
    while power < value:
        power <<= 1
    return power


def max_working_buckets(k: int) -> int:
    """The most buckets chiapos 2.0.12 plots k with (measured; it checks nothing itself).

    Above this it aborts in phase 1 ("Triggering bucket too early") or fails ("Matches do not
    match"), whatever the stripe size: k18 works with up to 32 buckets, k19 64, k20 and up 128.
    """
    return min(MAX_BUCKETS, 1 << (k - 13))


def _max_entry_bytes(k: int, table: int) -> int:
    """chiapos' ``EntrySizes::GetMaxEntrySize(k, table, phase_1_size=true)`` for tables 1..6."""
    if table == 1:
        bits = k + _EXTRA_BITS + k
    else:
        bits = k + _EXTRA_BITS + (k + 1) + _OFFSET_SIZE + k * _VECTOR_LENS[table + 1]
    return (bits + 7) // 8


def _max_table_bytes(k: int) -> float:
    # Table 7 entries are smaller than those of tables 3/4, so tables 1..6 give the maximum.
    return max(1.3 * (1 << k) * _max_entry_bytes(k, table) for table in range(1, 7))


def effective_buckets(k: int, buckets: int, buffer_mib: int, threads: int) -> int:
    """The bucket count chiapos will use (for ``buckets == 0`` an upper estimate)."""
    if buckets:
        return round_up_pow2(buckets)
    # chiapos' automatic choice; the thread memory is taken at the largest stripe size, which
    # can only overestimate the count and so only makes the fitted stripe smaller (safe).
    thread_mib = threads * 2 * (DEFAULT_STRIPE + 5000) * _max_entry_bytes(k, 4) // _MIB
    sub_mib = 5 + int(min(buffer_mib * 0.05, 50.0)) + thread_mib
    if sub_mib >= buffer_mib:
        return MAX_BUCKETS
    memory = (buffer_mib - sub_mib) * _MIB
    auto = 2 * round_up_pow2(math.ceil(_max_table_bytes(k) / (memory * _MEM_SORT_PROPORTION)))
    return min(max(auto, MIN_BUCKETS), MAX_BUCKETS)


def max_stripe_size(k: int, buckets: int) -> float:
    """chiapos refuses a stripe size above this ("Stripe size too large")."""
    return _max_table_bytes(k) / buckets / 30


def fitting_stripe_size(k: int, buckets: int, buffer_mib: int, threads: int) -> int:
    """The largest power of two up to chia's 65536 that chiapos accepts for this plot.

    k18 with 16 buckets gets 8192, k20 32768, k21 and up 65536; more buckets need less.
    """
    limit = max_stripe_size(k, effective_buckets(k, buckets, buffer_mib, threads))
    stripe = DEFAULT_STRIPE
    while stripe > limit and stripe > 1:
        stripe //= 2
    return stripe


def _hex_bytes(value: str, what: str, length: int | None) -> bytes:
    text = value.removeprefix("0x")
    try:
        decoded = bytes.fromhex(text)
    except ValueError:
        raise UsageError(f"{what} is not hex: {value!r}") from None
    if length is not None and len(decoded) != length:
        raise UsageError(f"{what} must be {length} bytes ({2 * length} hex digits): {value!r}")
    return decoded


def _made_up_public_key() -> bytes:
    # A compressed BLS G1 point has the top bit set and the infinity bit clear.
    key = bytearray(secrets.token_bytes(_KEY_BYTES))
    key[0] = (key[0] | 0x80) & ~0x40
    return bytes(key)


def _check_dir(path: Path, what: str, option: str) -> None:
    if not path.is_dir():
        problem = "is not a directory" if path.exists() else "does not exist"
        raise UsageError(f"{what} {path} {problem} (create it or fix {option})")


def parse_args(argv: Sequence[str]) -> CreateArgs:
    """Parse and check the arguments after ``chia`` (``plots create …``); ``UsageError``."""
    ns = _build_parser().parse_args(list(argv))
    k: int = ns.size
    if not MIN_K <= k <= MAX_K:
        raise UsageError(f"plot size k={k} is invalid: chiapos plots k from {MIN_K} to {MAX_K}")
    if ns.num < 1:
        raise UsageError(f"--num must be at least 1, not {ns.num}")
    if ns.buffer < MIN_BUFFER_MIB:
        raise UsageError(f"--buffer must be at least {MIN_BUFFER_MIB} MiB, not {ns.buffer}")
    if not 1 <= ns.num_threads <= 255:
        raise UsageError(f"--num_threads must be 1..255, not {ns.num_threads}")
    if ns.buckets < 0 or (
        ns.buckets and not MIN_BUCKETS <= round_up_pow2(ns.buckets) <= MAX_BUCKETS
    ):
        raise UsageError(
            f"--buckets must be 0 (automatic) or {MIN_BUCKETS}..{MAX_BUCKETS}, not {ns.buckets}"
        )

    most_buckets = max_working_buckets(k)
    if ns.buckets and round_up_pow2(ns.buckets) > most_buckets:
        raise UsageError(
            f"--buckets {ns.buckets} is too many for k={k}: chiapos fails above {most_buckets} "
            f"(use -u {most_buckets} or less, or 0 for automatic)"
        )

    stripe: int = ns.stripe_size
    if stripe < 0:
        raise UsageError(f"--stripe_size must be positive, not {stripe}")
    if stripe == 0:
        stripe = fitting_stripe_size(k, ns.buckets, ns.buffer, ns.num_threads)
    else:
        limit = max_stripe_size(k, effective_buckets(k, ns.buckets, ns.buffer, ns.num_threads))
        if stripe > limit:
            raise UsageError(f"--stripe_size {stripe} is too large for k={k}: at most {limit:.0f}")

    if ns.pool_public_key is not None and ns.pool_contract_address is not None:
        raise UsageError("choose one of --pool_contract_address and --pool_public_key")
    farmer_pk = (
        _made_up_public_key()
        if ns.farmer_public_key is None
        else _hex_bytes(ns.farmer_public_key, "farmer public key", _KEY_BYTES)
    )
    pool_pk: bytes | None = None
    puzzle_hash: bytes | None = None
    if ns.pool_contract_address is not None:
        try:
            puzzle_hash = decode_puzzle_hash(ns.pool_contract_address)
        except ValueError as exc:
            raise UsageError(
                f"pool contract address {ns.pool_contract_address!r} is invalid: {exc}"
            ) from None
    elif ns.pool_public_key is not None:
        pool_pk = _hex_bytes(ns.pool_public_key, "pool public key", _KEY_BYTES)
    else:
        pool_pk = _made_up_public_key()

    plot_id = None if ns.plotid is None else _hex_bytes(ns.plotid, "plot id", _ID_BYTES)
    memo = None if ns.memo is None else _hex_bytes(ns.memo, "memo", None)

    tmp2_dir: Path = ns.tmp_dir if ns.tmp2_dir is None else ns.tmp2_dir
    _check_dir(ns.tmp_dir, "temp directory", "-t")
    _check_dir(tmp2_dir, "temp2 directory", "-2")
    _check_dir(ns.final_dir, "final directory", "-d")

    return CreateArgs(
        k=k,
        num=ns.num,
        buffer_mib=ns.buffer,
        threads=ns.num_threads,
        buckets=ns.buckets,
        stripe_size=stripe,
        tmp_dir=ns.tmp_dir,
        tmp2_dir=tmp2_dir,
        final_dir=ns.final_dir,
        farmer_pk=farmer_pk,
        pool_pk=pool_pk,
        pool_contract_address=ns.pool_contract_address,
        pool_puzzle_hash=puzzle_hash,
        plot_id=plot_id,
        memo=memo,
        nobitfield=ns.nobitfield,
        exclude_final_dir=ns.exclude_final_dir,
    )


def _log(message: str, level: str = "INFO") -> None:
    """One line in the shape of chia 1.2's console logging (colorlog, even into a file)."""
    now = datetime.now()
    stamp = f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}"
    colour = _LEVEL_COLOURS[level]
    # flush: chiapos writes to the same descriptor through C stdio; lines must stay in order.
    print(
        f"{stamp}  {LOGGER_NAME:<33}: {colour}{level:<8}{_RESET} {message}{_RESET}",
        flush=True,
    )


def _flush_c_stdout() -> None:
    """Flush C's stdout, where chiapos writes, before Python writes to the same descriptor."""
    # Without a C library to reach, nothing lost: chiapos ends its lines with std::endl.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


def create_plots(args: CreateArgs) -> int:
    """Run the plotter ``args.num`` times, logging like chia; 0 on success, 1 on failure."""
    try:
        from chiapos import DiskPlotter
    except ImportError:
        print(f"{PROG} plots create: error: chiapos is not installed", file=sys.stderr)
        return 1

    if args.k < MIN_MAINNET_K:
        _log(
            f"Creating plots with size k={args.k}, which is less than the minimum required "
            "for mainnet",
            "WARNING",
        )
    farmer_hex = args.farmer_pk.hex()
    if args.pool_pk is not None:
        _log(
            f"Creating {args.num} plots of size {args.k}, pool public key:  "
            f"{args.pool_pk.hex()} farmer public key: {farmer_hex}"
        )
    else:
        _log(
            f"Creating {args.num} plots of size {args.k}, pool contract address:  "
            f"{args.pool_contract_address} farmer public key: {farmer_hex}"
        )

    finished: list[str] = []
    final_dir_added = False
    for index in range(args.num):
        pool_part = args.pool_pk if args.pool_pk is not None else args.pool_puzzle_hash
        assert pool_part is not None
        # Real chia: pool key or contract puzzle hash, farmer key, then the plot's master key.
        memo = (
            args.memo
            if args.memo is not None
            else pool_part + args.farmer_pk + secrets.token_bytes(_MASTER_SK_BYTES)
        )
        plot_id = args.plot_id if args.plot_id is not None else secrets.token_bytes(_ID_BYTES)
        if args.plot_id is not None:
            _log(f"Debug plot ID: {plot_id.hex()}")
        if args.memo is not None:
            _log(f"Debug memo: {memo.hex()}")
        _log(f"Memo: {memo.hex()}")

        filename = f"plot-k{args.k}-{datetime.now():%Y-%m-%d-%H-%M}-{plot_id.hex()}.plot"
        resolved_final_dir = args.final_dir.resolve()
        if args.exclude_final_dir:
            _log(f"NOT adding directory {resolved_final_dir} to harvester for farming")
        elif not final_dir_added:
            # Real chia says this once: afterwards the directory is in its harvester config.
            _log(f"Adding directory {resolved_final_dir} to harvester for farming")
            final_dir_added = True

        if (args.final_dir / filename).exists():
            _log(f"Plot {filename} already exists")
            continue
        _log(f"Starting plot {index + 1}/{args.num}")
        try:
            DiskPlotter().create_plot_disk(
                str(args.tmp_dir),
                str(args.tmp2_dir),
                str(args.final_dir),
                filename,
                args.k,
                memo,
                plot_id,
                args.buffer_mib,
                args.buckets,
                args.stripe_size,
                args.threads,
                args.nobitfield,
            )
        except RuntimeError:
            # chiapos has already printed "Caught plotting error: <reason>" into the log.
            _flush_c_stdout()
            print(
                f"{PROG} plots create: error: the plotter failed (see the log for why)",
                file=sys.stderr,
                flush=True,
            )
            return 1
        _flush_c_stdout()
        finished.append(filename)

    _log("Summary:")
    _log(f"Created a total of {len(finished)} new plots")
    for filename in finished:
        _log(filename)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``chia plots create …``: returns the exit status (see the module docstring)."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print(f"{PROG} plots create: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except SystemExit as exc:  # --help (argparse's own exit; errors raise UsageError)
        return exc.code if isinstance(exc.code, int) else 0
    return create_plots(args)


def script_main() -> NoReturn:
    """Entry point of the installed ``chia`` script."""
    # chiapos plots inside one C++ call, so Python's own SIGINT handler would only run after the
    # plot; the default actions kill at once like the real plotter (the parent may also have
    # left SIGTERM ignored, which a child inherits).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.exit(main())


if __name__ == "__main__":
    script_main()
