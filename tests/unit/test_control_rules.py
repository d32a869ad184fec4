"""Which files a kill deletes: the temp-name rules per plotter, and the listing rules.

The name table is the acceptance data for :func:`match_temp_name`; the listing tests build dirs
with files, symlinks and other jobs' files and check what :func:`list_temp_files` picks (no
processes: the jobs are plain Job values).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from plotman_tui.farm.control import (
    DirRole,
    NameMatch,
    list_jobs_temp_files,
    list_temp_files,
    match_temp_name,
)
from plotman_tui.farm.model import Job, JobStatus

ID = "77a011fc20f0003c3adcc739b615041ae56351a22b690fd854ccb6726e5f43b7"
OTHER = "8f781fecff9d78b83b7116580af550b62530a623750738a19dcea498a7a73010"
NAME = f"plot-k32-2021-07-11-16-52-{ID}"
OTHER_NAME = f"plot-k32-2021-07-11-16-53-{OTHER}"

TMP, TMP2, DST = DirRole.TMP, DirRole.TMP2, DirRole.DST
OWN, BUCKET = NameMatch.PLOT_ID, NameMatch.BLADEBIT_BUCKET

# (plotter, file name, dir role, expected match); the plot id is ID throughout.
NAME_TABLE: list[tuple[str, str, DirRole, NameMatch | None]] = [
    # chia (chiapos): NAME is the plot file name, "plot-k32-...-ID.plot".
    ("chia", f"{NAME}.plot.sort.tmp", TMP, OWN),
    ("chia", f"{NAME}.plot.table1.tmp", TMP, OWN),
    ("chia", f"{NAME}.plot.table7.tmp", TMP, OWN),
    ("chia", f"{NAME}.plot.p1.t1.sort_bucket_000.tmp", TMP, OWN),
    ("chia", f"{NAME}.plot.p2.t4.sort_bucket_015.tmp", TMP, OWN),
    ("chia", f"{NAME}.plot.p3s.t6.sort_bucket_127.tmp", TMP, OWN),
    ("chia", f"{NAME}.plot.2.tmp", TMP2, OWN),
    ("chia", f"{NAME}.plot.2.tmp", DST, OWN),  # the final copy
    ("chia", f"{NAME}.plot", DST, None),  # a finished plot, never
    ("chia", f"{NAME}.plot", TMP, None),
    ("chia", f"{OTHER_NAME}.plot.2.tmp", TMP2, None),  # another job's
    ("chia", f"{OTHER_NAME}.plot.sort.tmp", TMP, None),
    ("chia", f"{NAME}.plot.log", TMP, None),  # not a temp file
    ("chia", f"{NAME}.plot.tmp.bak", TMP, None),
    ("chia", f"plot-k32-2021-07-11-16-52-{ID}0.plot.2.tmp", TMP, None),  # a longer hex run
    ("chia", f"plot-k32-2021-07-11-16-52-a{ID}.plot.2.tmp", TMP, None),
    ("chia", f"plot-k32-2021-07-11-16-52-{ID.upper()}.plot.2.tmp", TMP, None),
    ("chia", "y0_12.tmp", TMP, None),  # BladeBit's shape means nothing for chia
    # madMAx: NAME.p1.t1.sort_bucket_000.tmp ..., NAME.plot.tmp, copied as DST/NAME.plot.tmp.
    ("madmax", f"{NAME}.p1.t1.sort_bucket_000.tmp", TMP2, OWN),
    ("madmax", f"{NAME}.p1.table1.tmp", TMP, OWN),
    ("madmax", f"{NAME}.p2.t7.sort_bucket_063.tmp", TMP, OWN),
    ("madmax", f"{NAME}.p3.t2.sort_bucket_255.tmp", TMP2, OWN),
    ("madmax", f"{NAME}.p3s.t3.sort_bucket_001.tmp", TMP, OWN),
    ("madmax", f"{NAME}.plot.tmp", TMP, OWN),
    ("madmax", f"{NAME}.plot.tmp", DST, OWN),
    ("madmax", f"{NAME}.plot", DST, None),
    ("madmax", f"{OTHER_NAME}.plot.tmp", DST, None),  # the previous plot's copy (-n 2)
    ("madmax", ".chia_plot_tmp.3", TMP, None),  # its start-up probe files carry no id
    # BladeBit RAM plotter: only NAME.plot.tmp in dst.
    ("bladebit", f"{NAME}.plot.tmp", DST, OWN),
    ("bladebit", f"{NAME}.plot", DST, None),
    ("bladebit", "y0_12.tmp", TMP, None),
    # BladeBit diskplot: bucket files "<set>_<bucket>.tmp" in -t1/-t2, NAME.plot.tmp in dst.
    ("bladebit2disk", f"{NAME}.plot.tmp", DST, OWN),
    ("bladebit2disk", f"{NAME}.plot", DST, None),
    ("bladebit2disk", "y0_12.tmp", TMP2, BUCKET),
    ("bladebit2disk", "index1_511.tmp", TMP2, BUCKET),
    ("bladebit2disk", "meta0_0.tmp", TMP2, BUCKET),
    ("bladebit2disk", "t1_0.tmp", TMP, BUCKET),
    ("bladebit2disk", "map7_255.tmp", TMP, BUCKET),
    ("bladebit2disk", "table_2_marks_0.tmp", TMP, BUCKET),
    ("bladebit2disk", "lp_map_0_3.tmp", TMP2, BUCKET),
    ("bladebit2disk", "fx_0_17.tmp", TMP, BUCKET),
    ("bladebit2disk", "y0_12.tmp", DST, None),  # never bucket files in dst
    ("bladebit2disk", "Y0_12.tmp", TMP, None),
    ("bladebit2disk", "y0_.tmp", TMP, None),
    ("bladebit2disk", "y0_12.tmp.bak", TMP, None),
    ("bladebit2disk", ".y0_12.tmp", TMP, None),
    ("bladebit2disk", "backup.tmp", TMP, None),
    ("bladebit2disk", "my-notes_1.tmp", TMP, None),
    ("bladebit2disk", f"{OTHER_NAME}.plot.tmp", DST, None),
    # BladeBit CUDA: its disk-mode temp names are not known to carry the id: only the plot.
    ("bladebit_cuda", f"{NAME}.plot.tmp", DST, OWN),
    ("bladebit_cuda", "y0_12.tmp", TMP, None),
]


@pytest.mark.parametrize(("plotter", "name", "role", "expected"), NAME_TABLE)
def test_temp_name_rules(
    plotter: str, name: str, role: DirRole, expected: NameMatch | None
) -> None:
    assert match_temp_name(plotter, name, ID, role) is expected


@pytest.mark.parametrize("plotter", ["chia", "madmax", "bladebit", "bladebit2disk"])
def test_without_a_plot_id_no_name_is_a_jobs_by_id(plotter: str) -> None:
    for name in (f"{NAME}.plot.2.tmp", f"{NAME}.plot.tmp", f"{NAME}.p1.table1.tmp"):
        assert match_temp_name(plotter, name, None, TMP) is None


def test_a_plot_id_that_is_not_64_hex_digits_matches_nothing() -> None:
    assert match_temp_name("chia", "plot-k32-x-.plot.2.tmp", "", TMP) is None
    assert match_temp_name("chia", "a.tmp", "a", TMP) is None


def make_job(
    plotter: str = "chia",
    *,
    pid: int = 4242,
    plot_id: str | None = ID,
    tmp: Path | str | None = None,
    tmp2: Path | str | None = None,
    dst: Path | str | None = None,
    started_at: float | None = None,
) -> Job:
    return Job(
        pid=pid,
        plotter=plotter,
        argv=(),
        cwd=None,
        started_at=time.time() - 60 if started_at is None else started_at,
        wall_seconds=60.0,
        status=JobStatus.RUN,
        plot_id=plot_id,
        tmp_dir=None if tmp is None else str(tmp),
        tmp2_dir=None if tmp2 is None else str(tmp2),
        dst_dir=None if dst is None else str(dst),
    )


def write(path: Path, size: int) -> Path:
    path.write_bytes(b"\0" * size)
    return path


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    made = {name: tmp_path / name for name in ("tmp", "tmp2", "dst", "outside")}
    for path in made.values():
        path.mkdir()
    return made


def test_listing_takes_only_the_jobs_regular_temp_files(dirs: dict[str, Path]) -> None:
    tmp, tmp2, dst, outside = dirs["tmp"], dirs["tmp2"], dirs["dst"], dirs["outside"]
    own = [
        write(tmp / f"{NAME}.plot.table1.tmp", 1000),
        write(tmp / f"{NAME}.plot.p1.t1.sort_bucket_000.tmp", 300),
        write(tmp2 / f"{NAME}.plot.2.tmp", 5000),
        write(dst / f"{NAME}.plot.2.tmp", 70),
    ]
    write(tmp / f"{OTHER_NAME}.plot.table1.tmp", 1)  # another job's
    write(tmp2 / f"{OTHER_NAME}.plot.2.tmp", 1)
    write(dst / f"{NAME}.plot", 1)  # finished, even with this job's id
    write(tmp / f"{NAME}.plot", 1)
    victim = write(outside / f"{NAME}.plot.sort.tmp", 1)
    (tmp / f"{NAME}.plot.sort.tmp").symlink_to(victim)  # a symlink out of the dir
    (tmp / f"{NAME}.dangling.tmp").symlink_to(outside / "nothing")
    (tmp / f"{NAME}.subdir.tmp").mkdir()  # not a regular file
    write(tmp / f"{NAME}.subdir.tmp" / f"{NAME}.plot.table2.tmp", 1)  # not directly inside

    listing = list_temp_files(make_job(tmp=tmp, tmp2=tmp2, dst=dst))

    assert sorted(f.path for f in listing.files) == sorted(str(p) for p in own)
    assert {f.path: f.size_bytes for f in listing.files} == {str(p): p.stat().st_size for p in own}
    assert listing.total_bytes == 6370
    assert listing.notes == ()


def test_a_dir_in_several_roles_is_listed_once(dirs: dict[str, Path]) -> None:
    tmp = dirs["tmp"]
    write(tmp / f"{NAME}.plot.tmp", 10)
    link = dirs["outside"] / "link-to-tmp"
    link.symlink_to(tmp)
    # madMAx's defaults: tmp2 and dst are tmp; here one of them names it through a symlink.
    listing = list_temp_files(make_job("madmax", tmp=tmp, tmp2=tmp, dst=link))
    assert [f.path for f in listing.files] == [str(tmp / f"{NAME}.plot.tmp")]


def test_a_job_dir_that_is_a_symlink_is_listed_under_the_name_the_job_uses(
    dirs: dict[str, Path],
) -> None:
    write(dirs["tmp"] / f"{NAME}.plot.2.tmp", 10)
    link = dirs["outside"] / "tmp-link"
    link.symlink_to(dirs["tmp"])
    listing = list_temp_files(make_job(tmp=link))
    assert [f.path for f in listing.files] == [str(link / f"{NAME}.plot.2.tmp")]


def test_unknown_plot_id_lists_nothing_and_says_why(dirs: dict[str, Path]) -> None:
    write(dirs["tmp"] / f"{NAME}.plot.2.tmp", 10)
    listing = list_temp_files(make_job(plot_id=None, tmp=dirs["tmp"]))
    assert listing.files == ()
    assert len(listing.notes) == 1 and "plot id not known" in listing.notes[0]


def test_missing_and_relative_dirs_are_noted_not_fatal(dirs: dict[str, Path]) -> None:
    write(dirs["dst"] / f"{NAME}.plot.2.tmp", 10)
    job = make_job(tmp=dirs["tmp"] / "unplugged", tmp2="relative/tmp2", dst=dirs["dst"])
    listing = list_temp_files(job)
    assert [f.path for f in listing.files] == [str(dirs["dst"] / f"{NAME}.plot.2.tmp")]
    assert any("unplugged" in note and "No such file" in note for note in listing.notes)
    assert any("relative/tmp2" in note for note in listing.notes)
    assert not listing.complete  # the total leaves out what those dirs may hold


def test_a_listing_is_complete_only_when_every_dir_was_looked_in(dirs: dict[str, Path]) -> None:
    write(dirs["tmp"] / f"{NAME}.plot.2.tmp", 10)
    whole = list_temp_files(make_job(tmp=dirs["tmp"], dst=dirs["dst"]))
    assert whole.complete and whole.total_bytes == 10 and whole.unreadable == ()
    relative = list_temp_files(make_job(tmp=dirs["tmp"], dst="relative/dst"))
    assert not relative.complete and relative.total_bytes == 10
    impossible = list_temp_files(make_job(tmp=dirs["tmp"], tmp2="/t\0mp2"))
    assert not impossible.complete and any("cannot be a dir" in n for n in impossible.notes)
    unplugged = list_temp_files(make_job(tmp=dirs["tmp"] / "unplugged"))
    assert not unplugged.complete and len(unplugged.unreadable) == 1
    assert not list_temp_files(make_job(plot_id=None, tmp=dirs["tmp"])).complete


def test_bladebit_bucket_files_only_in_a_dir_no_other_job_uses(dirs: dict[str, Path]) -> None:
    tmp, tmp2, dst = dirs["tmp"], dirs["tmp2"], dirs["dst"]
    buckets = [write(tmp / "t1_0.tmp", 5), write(tmp / "map2_3.tmp", 6)]
    write(tmp2 / "y0_0.tmp", 7)
    plot = write(dst / f"{NAME}.plot.tmp", 8)
    write(dst / "y0_1.tmp", 9)  # bucket shape in dst: not BladeBit's
    job = make_job("bladebit2disk", tmp=tmp, tmp2=tmp2, dst=dst)
    # Another job (of any plotter) writes its plot to tmp2: bucket files there are off limits.
    other = make_job("chia", pid=5151, plot_id=OTHER, tmp=dirs["outside"], dst=tmp2)

    listing = list_temp_files(job, other_jobs=[job, other])

    assert sorted(f.path for f in listing.files) == sorted(str(p) for p in [*buckets, plot])
    assert any(str(tmp2) in note and "another job" in note for note in listing.notes)

    alone = list_temp_files(job, other_jobs=[job])
    assert str(tmp2 / "y0_0.tmp") in {f.path for f in alone.files}


def test_bladebit_bucket_files_older_than_the_job_are_not_its_own(dirs: dict[str, Path]) -> None:
    tmp = dirs["tmp"]
    fresh = write(tmp / "y0_0.tmp", 5)
    stale = write(tmp / "y0_1.tmp", 5)
    started = time.time() - 60
    os.utime(stale, (started - 3600, started - 3600))  # left by a run an hour before
    job = make_job("bladebit2disk", tmp=tmp, started_at=started)
    listing = list_temp_files(job, other_jobs=[])
    assert [f.path for f in listing.files] == [str(fresh)]


def test_bladebit_without_plot_id_still_lists_its_bucket_files(dirs: dict[str, Path]) -> None:
    write(dirs["tmp"] / "y0_0.tmp", 5)
    write(dirs["dst"] / f"{NAME}.plot.tmp", 5)
    job = make_job("bladebit2disk", plot_id=None, tmp=dirs["tmp"], dst=dirs["dst"])
    listing = list_temp_files(job, other_jobs=[])
    assert [f.path for f in listing.files] == [str(dirs["tmp"] / "y0_0.tmp")]
    assert any("only BladeBit's bucket files" in note for note in listing.notes)


def test_a_name_holding_the_plot_id_twice_is_one_file(dirs: dict[str, Path]) -> None:
    # Listed once and counted once: a kill frees its size once, so the temp space must too.
    twice = write(dirs["tmp"] / f"{NAME}.plot.{ID}.tmp", 10)
    job = make_job(tmp=dirs["tmp"])
    listing = list_temp_files(job)
    assert [f.path for f in listing.files] == [str(twice)]
    assert listing.total_bytes == 10
    (many,) = list_jobs_temp_files([job], all_jobs=[job])
    assert many == listing


@pytest.mark.parametrize("count", [3, 40])  # a few jobs (a tmp dir), many (a dst, a RAID)
def test_a_shared_dir_lists_for_each_job_what_match_temp_name_accepts(
    tmp_path: Path, count: int
) -> None:
    # Each job gets exactly the regular files match_temp_name gives it, however many jobs
    # share the dir and whichever way the listing finds a name's jobs.
    shared = tmp_path / "shared"
    shared.mkdir()
    ids = [f"{index:02x}" * 32 for index in range(count)]
    a, b, c = ids[:3]
    names = {name for plotter, name, _, _ in NAME_TABLE if plotter != "bladebit2disk"}
    names |= {f"plot-k32-2021-07-11-16-52-{plot_id}.plot.table1.tmp" for plot_id in ids}
    names |= {f"{a}.{b}.tmp", f"{b}{c}.tmp", f"x{c}y.tmp", f"{a}.{a}.tmp", f"{b.upper()}.tmp"}
    names |= {f"{c}.tmp.bak", f"{a}.plot", f"{'f' * 64}.tmp"}  # f*64: no job's id
    for index, name in enumerate(sorted(names)):
        write(shared / name, index)
    (shared / f"{a}.dir.tmp").mkdir()
    (shared / f"{b}.link.tmp").symlink_to(shared / f"{a}.plot")
    os.mkfifo(shared / f"{c}.fifo.tmp")
    jobs = [make_job(pid=1000 + n, plot_id=i, tmp=shared, dst=shared) for n, i in enumerate(ids)]
    jobs.append(make_job("madmax", pid=999, plot_id=ID, tmp=shared))

    listings = list_jobs_temp_files(jobs, all_jobs=jobs)

    for job, listing in zip(jobs, listings, strict=True):
        expected = {
            str(shared / name)
            for name in names
            if match_temp_name(job.plotter, name, job.plot_id, TMP) is not None
        }
        assert [f.path for f in listing.files] == sorted(expected), job.plot_id
        assert listing.total_bytes == sum(os.path.getsize(path) for path in expected)
        assert listing == list_temp_files(job)
    assert len(listings[0].files) == 3  # its plot's table1, the pair's and the double's
