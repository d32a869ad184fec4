"""The farmer's plot files listed and removed for real: local dirs, SFTP over a real sshd on
127.0.0.1, and a script target's real shell commands.

The plots are copies of one real k18 chiapos plot under old names; the refusals are real too:
a symlink to a file outside the archive dir, a file that is no plot, a plot that grew since it
was listed, one being written, an immutable dir. After each removal the dir is listed again
(not followed) and compared with the listing before: only the plots named are gone.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from plotman_tui.config.schema import ArchiveTarget, ReplotRules, TargetType
from plotman_tui.farm.archive.farmer_files import (
    RemovalResult,
    list_plot_files,
    parse_list_output,
    remove_plot_files,
)
from plotman_tui.farm.archive.replot import FarmerListing, FarmerPlot, ReplotStep, plan_room
from plotman_tui.farm.archive.space import SshConnections, read_target_space
from tests.integration.test_archive_space import ssh_target
from tests.realservices import (  # noqa: F401 (the fixtures register by import)
    SshServer,
    farmer_plot_name,
    fill_archive_dir,
    listing_of,
    real_plot_fixture,
    removal_refused,
    small_disks_fixture,
    ssh_server_fixture,
)

pytestmark = pytest.mark.real_service

TIMEOUT_S = 10.0
OLD = datetime.datetime(2021, 6, 1, 12, 30)
KiB = 1024


def old_names(count: int, *, start: int = 0) -> list[str]:
    return [
        farmer_plot_name(OLD + datetime.timedelta(days=i), index=i)
        for i in range(start, start + count)
    ]


def local_target(*dirs: Path) -> ArchiveTarget:
    return ArchiveTarget(
        name="farm", type=TargetType.LOCAL, archive_dirs=tuple(str(d) for d in dirs)
    )


@pytest.fixture
async def connections() -> AsyncIterator[SshConnections]:
    """Kept SSH connections, as the archiver's space monitor holds them."""
    cache = SshConnections()
    try:
        yield cache
    finally:
        await cache.close()


@pytest.fixture
def farmer_dir(tmp_path: Path, real_plot: Path) -> Path:
    """An archive dir with three old real plots and everything that must never be listed or
    removed: a symlink to a plot outside, a dir and a temp file with plot names, other files."""
    archive = tmp_path / "farmer" / "disk1"
    fill_archive_dir(archive, real_plot, old_names(3))
    outside = fill_archive_dir(tmp_path / "elsewhere", real_plot, old_names(1, start=10))[0]
    (archive / old_names(1, start=20)[0]).symlink_to(outside)
    (archive / old_names(1, start=21)[0]).mkdir()
    (archive / (old_names(1, start=22)[0] + ".tmp")).write_bytes(b"x")
    (archive / "notes.txt").write_text("not a plot\n")
    (archive / "plot-k18-with space.plot").write_bytes(real_plot.read_bytes())
    return archive


async def listed(target: ArchiveTarget, connections: SshConnections) -> FarmerListing:
    return await list_plot_files(target, connections=connections, timeout_s=TIMEOUT_S)


async def remove(
    target: ArchiveTarget,
    archive_dir: Path,
    plots: list[FarmerPlot],
    connections: SshConnections,
) -> RemovalResult:
    return await remove_plot_files(
        target, str(archive_dir), plots, connections=connections, timeout_s=TIMEOUT_S
    )


def plots_of(listing: FarmerListing, archive_dir: Path) -> dict[str, FarmerPlot]:
    return {plot.name: plot for plot in listing.dirs[str(archive_dir)]}


# -- listing ------------------------------------------------------------------------------------


async def test_local_listing_has_only_regular_plot_files(
    farmer_dir: Path, real_plot: Path, tmp_path: Path, connections: SshConnections
) -> None:
    (tmp_path / "not-a-dir").write_text("")
    target = local_target(farmer_dir, tmp_path / "missing", tmp_path / "not-a-dir")
    listing = await listed(target, connections)

    plots = plots_of(listing, farmer_dir)
    assert sorted(plots) == old_names(3)
    size = real_plot.stat().st_size
    for name, plot in plots.items():
        info = (farmer_dir / name).stat()
        assert (plot.size_bytes, plot.mtime, plot.archive_dir) == (
            size,
            info.st_mtime,
            str(farmer_dir),
        )
    assert listing.problems == {
        str(tmp_path / "missing"): "missing",
        str(tmp_path / "not-a-dir"): "not a dir",
    }
    assert listing.problem is None and listing.target == "farm"


async def test_an_archive_dir_that_is_a_symlink_to_a_disk_is_listed(
    farmer_dir: Path, tmp_path: Path, connections: SshConnections
) -> None:
    mount_point = tmp_path / "farmer" / "disk-link"
    mount_point.symlink_to(farmer_dir)
    listing = await listed(local_target(mount_point), connections)
    assert sorted(plots_of(listing, mount_point)) == old_names(3)


async def test_sftp_listing_matches_the_local_one(
    farmer_dir: Path, tmp_path: Path, ssh_server: SshServer, connections: SshConnections
) -> None:
    dirs = (str(farmer_dir), str(tmp_path / "missing"))
    over_ssh = await listed(ssh_target(ssh_server, dirs), connections)
    local = await listed(local_target(farmer_dir), connections)

    assert over_ssh.problem is None, over_ssh.problem
    by_name = plots_of(over_ssh, farmer_dir)
    assert sorted(by_name) == old_names(3)
    for name, plot in plots_of(local, farmer_dir).items():
        # SFTP (version 3) gives whole seconds.
        assert by_name[name].size_bytes == plot.size_bytes
        assert by_name[name].mtime == int(plot.mtime)
    assert over_ssh.problems == {str(tmp_path / "missing"): "missing"}


async def test_sftp_listing_of_an_unreachable_farmer_says_why(
    farmer_dir: Path, ssh_server: SshServer, connections: SshConnections
) -> None:
    target = ssh_target(ssh_server, (str(farmer_dir),))
    assert (await listed(target, connections)).problem is None  # a kept connection now
    ssh_server.stop()
    listing = await listed(target, connections)
    assert listing.dirs == {}
    assert listing.problem is not None and "farmer unreachable" in listing.problem


# -- removal ------------------------------------------------------------------------------------


@pytest.fixture(params=["local", "ssh"])
def kind(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param


@pytest.fixture
def target_of(kind: str, request: pytest.FixtureRequest) -> Callable[[Path], ArchiveTarget]:
    """The same archive dir as a local target, or over SFTP on a real sshd."""
    if kind == "local":
        return local_target
    server: SshServer = request.getfixturevalue("ssh_server")
    return lambda directory: ssh_target(server, (str(directory),))


async def test_removal_takes_exactly_the_plots_named(
    farmer_dir: Path, target_of: Callable[[Path], ArchiveTarget], connections: SshConnections
) -> None:
    target = target_of(farmer_dir)
    before = listing_of(farmer_dir)
    plots = plots_of(await listed(target, connections), farmer_dir)
    gone = [plots[name] for name in old_names(2)]

    result = await remove(target, farmer_dir, gone, connections)

    assert result == RemovalResult(tuple(gone))
    after = listing_of(farmer_dir)
    assert after == {name: entry for name, entry in before.items() if name not in old_names(2)}


async def refused(
    target: ArchiveTarget,
    archive_dir: Path,
    plots: list[FarmerPlot],
    connections: SshConnections,
    words: str,
    *,
    by_check: bool = True,
) -> None:
    """Removing ``plots`` fails at the first, saying ``words``, and changes nothing;
    ``by_check``: a check refused it (the replotter stops on that, whatever a listing says),
    not the farmer's error."""
    before = listing_of(archive_dir)
    result = await remove(target, archive_dir, plots, connections)
    assert result.removed == () and result.failed == plots[0] and result.reachable, result
    assert result.refused is by_check, result
    assert result.error is not None and words in result.error, result.error
    assert listing_of(archive_dir) == before  # the next plots were not tried either


async def first_listed(
    target: ArchiveTarget, archive_dir: Path, connections: SshConnections
) -> FarmerPlot:
    return plots_of(await listed(target, connections), archive_dir)[old_names(1)[0]]


async def test_removal_refuses_a_symlink_to_a_file_outside(
    farmer_dir: Path,
    tmp_path: Path,
    target_of: Callable[[Path], ArchiveTarget],
    connections: SshConnections,
) -> None:
    target = target_of(farmer_dir)
    victim = await first_listed(target, farmer_dir, connections)
    # Listed as a plot, then swapped for a symlink to a plot elsewhere before the removal.
    outside = tmp_path / "elsewhere" / old_names(1, start=10)[0]
    (farmer_dir / victim.name).unlink()
    (farmer_dir / victim.name).symlink_to(outside)
    next_plot = replace(victim, name=old_names(2)[1])

    await refused(target, farmer_dir, [victim, next_plot], connections, "not a regular file")
    # Even with the symlink's own size (so the size check passes), it stays.
    as_link = replace(victim, size_bytes=(farmer_dir / victim.name).lstat().st_size)
    await refused(target, farmer_dir, [as_link], connections, "not a regular file")
    assert outside.stat().st_size == victim.size_bytes


async def test_removal_refuses_a_file_that_is_no_plot(
    farmer_dir: Path, target_of: Callable[[Path], ArchiveTarget], connections: SshConnections
) -> None:
    target = target_of(farmer_dir)
    for name in ("notes.txt", "plot-k18-with space.plot", "../disk1/notes.txt"):
        fake = FarmerPlot(str(farmer_dir), name, 11, 0.0)
        await refused(target, farmer_dir, [fake], connections, "not a plot file's name")


async def test_removal_refuses_a_plot_that_changed_since_it_was_listed(
    farmer_dir: Path, target_of: Callable[[Path], ArchiveTarget], connections: SshConnections
) -> None:
    target = target_of(farmer_dir)
    grown = await first_listed(target, farmer_dir, connections)
    path = farmer_dir / grown.name
    stamp = path.stat()
    with path.open("ab") as plot_file:
        plot_file.write(b"more")
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # only the size tells
    await refused(target, farmer_dir, [grown], connections, "bytes it was listed with")


async def test_removal_refuses_a_plot_being_written(
    farmer_dir: Path, target_of: Callable[[Path], ArchiveTarget], connections: SshConnections
) -> None:
    target = target_of(farmer_dir)
    fresh = await first_listed(target, farmer_dir, connections)
    os.utime(farmer_dir / fresh.name)  # written to just now (a transfer, a copy by hand)
    await refused(target, farmer_dir, [fresh], connections, "may still be written")


async def test_removal_refused_by_the_farmer_is_told(
    farmer_dir: Path, target_of: Callable[[Path], ArchiveTarget], connections: SshConnections
) -> None:
    target = target_of(farmer_dir)
    first = await first_listed(target, farmer_dir, connections)
    with removal_refused(farmer_dir):
        await refused(
            target, farmer_dir, [first], connections, f"cannot remove {first.name}", by_check=False
        )


async def test_removal_stops_at_the_first_failure(
    farmer_dir: Path, target_of: Callable[[Path], ArchiveTarget], connections: SshConnections
) -> None:
    target = target_of(farmer_dir)
    plots = plots_of(await listed(target, connections), farmer_dir)
    first, second, third = (plots[name] for name in old_names(3))
    (farmer_dir / second.name).unlink()  # removed by hand meanwhile

    result = await remove(target, farmer_dir, [first, second, third], connections)

    assert result.removed == (first,) and result.failed == second
    assert (farmer_dir / third.name).exists()


async def test_removal_refuses_plots_of_another_dir(
    farmer_dir: Path, tmp_path: Path, connections: SshConnections
) -> None:
    target = local_target(farmer_dir)
    plots = plots_of(await listed(target, connections), farmer_dir)
    stray = replace(plots[old_names(1)[0]], archive_dir=str(tmp_path))
    result = await remove(target, farmer_dir, [stray], connections)
    assert result.failed == stray and result.removed == ()
    unknown = await remove(target, tmp_path, [stray], connections)
    assert unknown.error == f"{tmp_path} is no archive dir of farm"
    assert len(plots_of(await listed(target, connections), farmer_dir)) == 3


async def test_sftp_removal_with_the_farmer_gone_is_unreachable(
    farmer_dir: Path, ssh_server: SshServer, connections: SshConnections
) -> None:
    target = ssh_target(ssh_server, (str(farmer_dir),))
    plots = plots_of(await listed(target, connections), farmer_dir)
    ssh_server.stop()
    before = listing_of(farmer_dir)

    result = await remove(target, farmer_dir, list(plots.values()), connections)

    assert result.removed == () and not result.reachable
    assert result.error is not None and "farmer unreachable" in result.error
    assert listing_of(farmer_dir) == before


# -- a full disk made room on -------------------------------------------------------------------


async def test_a_full_disk_gets_room_for_exactly_one_more_plot(
    small_disks: Callable[[str, int], Path],
    real_plot: Path,
    target_of: Callable[[Path], ArchiveTarget],
    connections: SshConnections,
) -> None:
    size = real_plot.stat().st_size
    disk = small_disks("disk1", 4 * size + 512 * KiB)
    old = old_names(4)
    compressed = farmer_plot_name(OLD, level=5, index=99)
    fill_archive_dir(disk, real_plot, [*old[:3], compressed])
    target = target_of(disk)
    space = await read_target_space(target, timeout_s=TIMEOUT_S, connection_cache=connections)
    free = space.free_bytes[str(disk)]
    assert free is not None and free < size  # full: the next plot does not fit

    step = plan_room(
        await listed(target, connections),
        space.free_bytes,
        size,
        ReplotRules(uncompressed=True),
        for_plot="new.plot",
        protected=frozenset(),
        now=datetime.datetime.now().timestamp(),
    )
    assert isinstance(step, ReplotStep), step
    assert [r.plot.name for r in step.removals] == old[:1]  # the oldest, and only it
    result = await remove(target, disk, [r.plot for r in step.removals], connections)
    assert result.removed == tuple(r.plot for r in step.removals)

    fill_archive_dir(disk, real_plot, ["new.plot"])  # now it fits
    assert sorted(listing_of(disk)) == sorted([*old[1:3], compressed, "new.plot"])


# -- script targets -----------------------------------------------------------------------------

# Real shell commands, as a farmer's own script would be: list with stat, remove with rm.
LIST_SCRIPT = (
    'for f in "$1"/plot-k*.plot; do [ -f "$f" ] && [ ! -L "$f" ] || continue; '
    'printf "%s %s %s\\n" "$(stat -c %s "$f")" "${f##*/}" "$(stat -c %Y "$f")"; done; '
    "echo 'total: many'; echo '12 ../../etc/passwd'; echo '-5 plot-k18-x.plot'"
)
REMOVE_SCRIPT = 'rm -- "$2/$1"'


def script_target(*dirs: Path, **commands: tuple[str, ...]) -> ArchiveTarget:
    return ArchiveTarget(
        name="scripted",
        type=TargetType.SCRIPT,
        archive_dirs=tuple(str(d) for d in dirs),
        transfer_command=("true",),
        free_space_command=("echo", "0"),
        list_command=commands.get("list_command", ("sh", "-c", LIST_SCRIPT, "sh", "{archive_dir}")),
        remove_command=commands.get(
            "remove_command", ("sh", "-c", REMOVE_SCRIPT, "sh", "{plot_name}", "{archive_dir}")
        ),
    )


async def test_script_target_lists_and_removes_with_its_commands(
    farmer_dir: Path, connections: SshConnections
) -> None:
    target = script_target(farmer_dir)
    listing = await listed(target, connections)
    local = plots_of(await listed(local_target(farmer_dir), connections), farmer_dir)

    plots = plots_of(listing, farmer_dir)
    assert sorted(plots) == sorted(local)  # the junk lines and the bad names are skipped
    assert all(plots[n].size_bytes == p.size_bytes for n, p in local.items())
    assert all(plots[n].mtime == int(p.mtime) for n, p in local.items())

    before = listing_of(farmer_dir)
    gone = [plots[old_names(1)[0]]]
    assert await remove(target, farmer_dir, gone, connections) == RemovalResult(tuple(gone))
    assert listing_of(farmer_dir) == {n: e for n, e in before.items() if n != gone[0].name}


async def test_script_failures_are_one_line_each(
    farmer_dir: Path, connections: SshConnections
) -> None:
    failing = ("sh", "-c", "echo first >&2; echo 'disk offline' >&2; exit 3")
    target = script_target(farmer_dir, list_command=failing, remove_command=failing)
    listing = await listed(target, connections)
    assert listing.problem == "list_command exited with status 3: disk offline"

    plot = FarmerPlot(str(farmer_dir), old_names(1)[0], 1, 0.0)
    result = await remove(target, farmer_dir, [plot], connections)
    assert result.error == f"remove_command exited with status 3 for {plot.name}: disk offline"
    assert (farmer_dir / plot.name).exists()


def test_list_output_keeps_only_plot_lines() -> None:
    name = old_names(1)[0]
    output = "\n".join(
        [
            f"4000000 {name} 1622550600",
            f"4000001 {name}",  # the same name again: the first wins
            "12 ../../etc/passwd",
            "7 plot-k18-a/b.plot",
            "0 plot-k18-empty.plot",
            f"{'9' * 25} plot-k18-huge.plot",
            "size name",
            "",
            "5 plot-k18-\x00.plot",
            "123 plot-k18-ok.plot 1e9",  # a bad mtime: the line is skipped
            "   99  plot-k18-spaced.plot   ",
        ]
    )
    plots = parse_list_output("/d", output)
    assert plots == (
        FarmerPlot("/d", name, 4_000_000, 1622550600.0),
        FarmerPlot("/d", "plot-k18-spaced.plot", 99, 0.0),
    )


async def test_a_missing_identity_file_is_told_as_such(
    tmp_path: Path, connections: SshConnections
) -> None:
    target = ArchiveTarget(
        name="farm",
        type=TargetType.SSH,
        archive_dirs=(str(tmp_path),),
        host="127.0.0.1",
        identity_file=tmp_path / "no-such-key",
    )
    listing = await listed(target, connections)
    assert listing.problem is not None and listing.problem.startswith("identity_file ")
    plot = FarmerPlot(str(tmp_path), old_names(1)[0], 1, 0.0)
    result = await remove(target, tmp_path, [plot], connections)
    assert result.failed == plot and result.error == listing.problem


# -- sizes that lie, hard links -----------------------------------------------------------------

LEFT_OUT = "files named like plots have sizes no plot of their k has: left alone"


async def test_plots_listed_in_kib_are_left_out_and_told(
    farmer_dir: Path, connections: SshConnections
) -> None:
    # A farmer's list_command printing du -k's KiB: every plot would look 1,000 times smaller
    # and one step remove a thousand plots. None is listed, so none can go.
    in_kib = (
        'for f in "$1"/plot-k*.plot; do [ -f "$f" ] && [ ! -L "$f" ] || continue; '
        'printf "%s %s\\n" "$(du -k --apparent-size "$f" | cut -f1)" "${f##*/}"; done'
    )
    target = script_target(farmer_dir, list_command=("sh", "-c", in_kib, "sh", "{archive_dir}"))
    listing = await listed(target, connections)

    assert listing.problem is None and listing.dirs == {str(farmer_dir): ()}
    problem = listing.problems[str(farmer_dir)]
    assert problem.startswith(f"3 {LEFT_OUT} ("), problem
    assert "a k18 plot is " in problem
    step = plan_room(
        listing,
        {str(farmer_dir): 0},
        farmer_dir.joinpath(old_names(1)[0]).stat().st_size,
        ReplotRules(uncompressed=True),
        for_plot="new.plot",
        protected=frozenset(),
        now=datetime.datetime.now().timestamp(),
    )
    assert step == "full, and no plot matches the replot rules"


async def test_a_file_named_like_a_plot_too_small_for_its_k_is_left_out(
    farmer_dir: Path, target_of: Callable[[Path], ArchiveTarget], connections: SshConnections
) -> None:
    # A plot cut short (a copy by hand that failed): a removal would free next to nothing.
    short = farmer_dir / old_names(1, start=30)[0]
    short.write_bytes(b"x" * 1000)
    listing = await listed(target_of(farmer_dir), connections)
    assert sorted(plots_of(listing, farmer_dir)) == old_names(3)
    problem = listing.problems[str(farmer_dir)]
    assert problem.startswith(
        "1 file named like a plot has a size no plot of its k has: left alone "
        f"({short.name} is listed at 1000 bytes, a k18 plot is "
    ), problem


async def test_local_removal_refuses_a_plot_with_another_hard_link(
    farmer_dir: Path, tmp_path: Path, connections: SshConnections
) -> None:
    target = local_target(farmer_dir)
    linked = await first_listed(target, farmer_dir, connections)
    (tmp_path / "backup").mkdir()
    os.link(farmer_dir / linked.name, tmp_path / "backup" / linked.name)
    await refused(
        target,
        farmer_dir,
        [linked],
        connections,
        "has 2 hard links, so removing it frees no space (remove its other links first)",
    )
