"""The ``plotman-tui`` command line.

Imports are lazy: the one-shot commands (``status`` above all) must start fast and must never
import textual.

Exit status: 0 success; 1 the operation failed (an unreadable log, a job that vanished);
2 usage or configuration error; 3 no such job, or an ambiguous id prefix; 130 interrupted.
The loops (``plot``, ``--no-ui``) exit 0 when a signal stops them; with ``--once``, 0 when
nothing failed in the pass and 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from plotman_tui import __version__

if TYPE_CHECKING:
    from plotman_tui.config.schema import ArchiveTarget, Config
    from plotman_tui.farm.archive.replot import FarmerListing, ReplotProgress
    from plotman_tui.farm.archive.replotter import ReplotHistory
    from plotman_tui.farm.archive.space import TargetSpace
    from plotman_tui.farm.dirs import DirInfo
    from plotman_tui.farm.finished import FinishedLog
    from plotman_tui.farm.jobcontrol import JobControl, Outcome
    from plotman_tui.farm.model import Job, Snapshot

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_JOB = 3
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A one-line error for the user, with the exit status to leave with."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse's own usage errors: one line plus the hint, exit 2 as documented.
        self.exit(EXIT_USAGE, f"plotman-tui: error: {message} (see plotman-tui --help)\n")


#: How a job is named on the command line (see farm.discovery.job_id_errors).
_IDS_HELP = (
    "plot id prefixes, pid:N, pid:N@T (the job with pid N created at T, POSIX seconds: never a "
    "later job that got its pid), or 'all'"
)
_ID_HELP = "plot id prefix, pid:N, or pid:N@T (pid N created at T, POSIX seconds)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="plotman-tui",
        description="A plotting manager for Chia farmers.",
        epilog="Exit status: 0 ok, 1 failed, 2 usage or config error, 3 no such job, "
        "130 interrupted.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $PLOTMAN_TUI_CONFIG, else the user config dir)",
    )
    parser.add_argument("--version", action="version", version=f"plotman-tui {__version__}")
    parser.add_argument(
        "--no-ui",
        action="store_true",
        help="run the engine (plotting, and archiving when enabled) without a screen, for "
        "services; one line per event",
    )
    parser.add_argument(
        "--no-autostart-plotting",
        action="store_true",
        help="open the dashboard with plotting paused (default: [commands.interactive])",
    )
    parser.add_argument(
        "--no-autostart-archiving",
        action="store_true",
        help="open the dashboard with archiving paused (default: [commands.interactive])",
    )
    parser.add_argument(
        "--once",
        dest="headless_once",
        action="store_true",
        help="with --no-ui: one pass, then exit",
    )
    parser.add_argument(
        "--json", dest="headless_json", action="store_true", help="with --no-ui: JSON lines"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    status = commands.add_parser("status", help="table of running plot jobs")
    status.add_argument("--json", action="store_true", help="print JSON for scripts")

    details = commands.add_parser("details", help="everything known about jobs")
    details.add_argument("ids", nargs="+", metavar="ID", help=_IDS_HELP)

    logs = commands.add_parser("logs", help="print a job's plotter log")
    logs.add_argument("id", metavar="ID", help=_ID_HELP)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing as the log grows")

    files = commands.add_parser("files", help="a job's temp files and their sizes")
    files.add_argument("ids", nargs="+", metavar="ID", help=_IDS_HELP)
    files.add_argument("--json", action="store_true", help="print JSON for scripts")

    commands.add_parser("dirs", help="tmp, tmp2 and dst dirs: jobs, phases, free space")
    commands.add_parser("dsched", help="for each dst dir, the phases of jobs headed there")
    commands.add_parser("version", help="print versions")

    config = commands.add_parser("config", help="create, locate and check the config file")
    config_commands = config.add_subparsers(
        dest="config_command", metavar="ACTION", parser_class=_Parser, required=True
    )
    generate = config_commands.add_parser("generate", help="write a commented template")
    generate.add_argument("--force", action="store_true", help="overwrite an existing file")
    config_commands.add_parser("path", help="print the config path and whether it exists")
    config_commands.add_parser("check", help="validate the config and summarise it")

    suspend = commands.add_parser("suspend", help="stop jobs for now (SIGSTOP)")
    suspend.add_argument("ids", nargs="+", metavar="ID", help=_IDS_HELP)
    resume = commands.add_parser("resume", help="let suspended jobs run on (SIGCONT)")
    resume.add_argument("ids", nargs="+", metavar="ID", help=_IDS_HELP)
    kill = commands.add_parser(
        "kill", help="end jobs and delete their temp files (asks first; --force does not)"
    )
    kill.add_argument("ids", nargs="+", metavar="ID", help=_IDS_HELP)
    kill.add_argument(
        "--force", action="store_true", help="do not ask (needed when not run from a terminal)"
    )
    history = commands.add_parser("history", help="what was started, killed, suspended, resumed")
    history.add_argument(
        "--since", metavar="WHEN", help="an age (90s, 30m, 2h, 1d, 1w; -2h too) or a date"
    )
    history.add_argument("--json", action="store_true", help="print JSON lines for scripts")

    plot = commands.add_parser(
        "plot", help="the plotting loop in the foreground: starts jobs on the configured schedule"
    )
    plot.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
    plot.add_argument("--json", action="store_true", help="print JSON lines for scripts")
    archive = commands.add_parser(
        "archive", help="the archiving loop in the foreground: moves finished plots to the farmer"
    )
    archive.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
    archive.add_argument("--json", action="store_true", help="print JSON lines for scripts")

    analyze = commands.add_parser(
        "analyze", help="phase times and output of finished plots, grouped (from their logs)"
    )
    analyze.add_argument(
        "logs", nargs="*", metavar="LOG", help="log files or dirs (default: the plot log dir)"
    )
    analyze.add_argument(
        "--by",
        metavar="KEYS",
        help="group by any of plotter,k,compression,tmp,tmp2,dst,threads,buckets,buffer,"
        "bitfield,day,week (comma-separated, e.g. tmp,day)",
    )
    analyze.add_argument(
        "--since", metavar="WHEN", help="plots finished since: an age (2h, 1d, 1w) or a date"
    )
    analyze.add_argument(
        "--until", metavar="WHEN", help="plots finished before: an age (2h, 1d, 1w) or a date"
    )
    analyze_format = analyze.add_mutually_exclusive_group()
    analyze_format.add_argument("--json", action="store_true", help="print JSON for scripts")
    analyze_format.add_argument("--csv", action="store_true", help="print CSV for spreadsheets")
    export = commands.add_parser(
        "export", help="CSV of every finished plot (plotman's columns first, then more)"
    )
    export.add_argument(
        "logs", nargs="*", metavar="LOG", help="log files or dirs (default: the plot log dir)"
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    metrics = commands.add_parser(
        "metrics", help="Prometheus metrics: print them once, or serve them with --serve"
    )
    metrics.add_argument(
        "--serve",
        metavar="[HOST:]PORT",
        help="serve /metrics for Prometheus to scrape (host default 127.0.0.1)",
    )
    replot = commands.add_parser(
        "replot", help="replotting: what the replot rules of the archive targets match"
    )
    replot_commands = replot.add_subparsers(
        dest="replot_command", metavar="ACTION", parser_class=_Parser, required=True
    )
    replot_plan = replot_commands.add_parser(
        "plan",
        help="list each target's archive dirs and what its replot rules match; changes nothing",
        description="Lists the plots in each archive dir of each archive target (or the one "
        "named) and those its [archiving.targets.replot] rules match: the old plots replotting "
        "may remove to make room, counts and sizes per dir and in all. Nothing is removed or "
        "changed. Plots this machine sent (the action log's transfers) and plots changed in the "
        "last 10 minutes never match.",
        epilog="Exit status: 0 ok, 1 a target's plots could not be listed (its line says why), "
        "2 usage or config error (or no target of that name).",
    )
    replot_plan.add_argument("--json", action="store_true", help="print JSON for scripts")
    replot_plan.add_argument("--target", metavar="NAME", help="only the target of this name")
    for loop, what in (("plotting", "starting plot jobs"), ("archiving", "starting transfers")):
        switch = commands.add_parser(
            loop,
            help=f"pause or resume {what} on this machine (a running loop obeys within a pass)",
        )
        switch.add_argument(
            "switch",
            choices=("pause", "resume", "status"),
            metavar="ACTION",
            help="pause, resume, or status (whether it is paused)",
        )
    watch = commands.add_parser(
        "watch",
        help="this machine's jobs, dirs and loops as JSON lines, then what changes (the fleet "
        "view reads it over SSH)",
    )
    watch.add_argument("--json", action="store_true", help="JSON lines (the only form)")
    fleet = commands.add_parser("fleet", help="every plotting machine of [fleet], over SSH")
    fleet_commands = fleet.add_subparsers(
        dest="fleet_command", metavar="ACTION", parser_class=_Parser, required=True
    )
    fleet_status = fleet_commands.add_parser(
        "status",
        help="the jobs of every host, with a host column",
        epilog="Exit status: 0 every host answered, 1 a host is down or failed (its line says "
        "why), 2 usage or config error.",
    )
    fleet_status.add_argument("--json", action="store_true", help="print JSON for scripts")
    commands.add_parser("interactive", help="the dashboard (the same as no command)")
    demo = commands.add_parser(
        "demo", help="the dashboard on a sandbox farm plotting and archiving real tiny plots"
    )
    demo.add_argument("--dir", metavar="D", help="where to build it (default: a temp dir)")
    demo.add_argument(
        "--no-ui", dest="demo_headless", action="store_true", help="the engine's lines, no screen"
    )
    demo.add_argument("--json", dest="demo_json", action="store_true", help="with --no-ui: JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_joined_since(sys.argv[1:] if argv is None else list(argv)))
    try:
        code = _dispatch(parser, args)
        sys.stdout.flush()  # a full disk under `> FILE` shows here, not at exit
        return code
    except CliError as error:
        print(f"plotman-tui: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `plotman-tui status | head`: the reader left; say nothing more.
        _silence_stdout()
        return EXIT_OK
    except OSError as error:
        if error.errno not in _OUTPUT_ERRORS:
            raise
        # `plotman-tui status > /dev/full`, a full disk or quota under a redirect: the output
        # cannot be written; say so once (a flush at exit would fail again).
        _silence_stdout()
        print(f"plotman-tui: cannot write the output: {error.strerror}", file=sys.stderr)
        return EXIT_FAILED


#: What writing to stdout fails with when it cannot take the output (the disk or quota is full;
#: not EIO, which a log read from a failing disk raises too).
_OUTPUT_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _joined_since(argv: list[str]) -> list[str]:
    """``--since -5h`` as ``--since=-5h``: argparse takes a value starting with "-" for an
    option of its own and would refuse it, though an age can only mean back from now."""
    joined: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            joined += [word, *words]
            break
        if word in ("--since", "--until"):
            value = next(words, None)
            if value is not None and value.startswith("-") and value[1:2].isdigit():
                joined.append(f"{word}={value}")
                continue
            joined += [word] if value is None else [word, value]
            continue
        joined.append(word)
    return joined


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    command = args.command
    if args.config is not None and not args.config.strip():
        # Not the default file: a script whose variable came out empty must not run on it.
        raise CliError("--config needs a path to a config file (it was given an empty one)", 2)
    if args.no_ui:
        if command is not None:
            raise CliError(f"--no-ui runs the engine and takes no command (got {command!r})", 2)
        return _run_loop(args, once=args.headless_once, json_lines=args.headless_json)
    if args.headless_once or args.headless_json:
        raise CliError("--once and --json before the command go with --no-ui", EXIT_USAGE)
    if command in (None, "interactive"):
        return _cmd_dashboard(args)
    if command == "version":
        return _cmd_version()
    if command == "config":
        return _cmd_config(args)
    if command == "demo":
        from plotman_tui.sandbox.demo import run_demo

        return run_demo(
            Path(args.dir) if args.dir else None,
            headless=args.demo_headless,
            json_lines=args.demo_json,
        )
    if command == "history":
        return _cmd_history(args)  # the action log is in the data dir: no config needed
    if command in ("plotting", "archiving"):
        return _cmd_loop_switch(args)  # the flag is in the data dir: no config needed either
    config = load_config_or_exit(args.config)
    if command in ("plot", "archive"):
        return _run_loop(
            args,
            once=args.once,
            json_lines=args.json,
            config=config,
            plotting=command == "plot",
            archiving=command == "archive",
        )
    handlers = {
        "suspend": _cmd_suspend,
        "resume": _cmd_resume,
        "kill": _cmd_kill,
        "status": _cmd_status,
        "details": _cmd_details,
        "logs": _cmd_logs,
        "files": _cmd_files,
        "dirs": _cmd_dirs,
        "dsched": _cmd_dsched,
        "analyze": _cmd_analyze,
        "export": _cmd_export,
        "metrics": _cmd_metrics,
        "replot": _cmd_replot,
        "watch": _cmd_watch,
        "fleet": _cmd_fleet,
    }
    return handlers[command](config, args)


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from plotman_tui.config import resolve_config_path

    config = load_config_or_exit(args.config)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError(
            "the dashboard needs a terminal; for a service or a pipe use --no-ui "
            "(see plotman-tui --help)",
            EXIT_USAGE,
        )
    from plotman_tui.metrics import MetricsError
    from plotman_tui.tui.app import run_dashboard

    interactive = config.commands.interactive
    try:
        return run_dashboard(
            config,
            resolve_config_path(args.config),
            autostart_plotting=interactive.autostart_plotting and not args.no_autostart_plotting,
            autostart_archiving=interactive.autostart_archiving and not args.no_autostart_archiving,
        )
    except MetricsError as error:  # [metrics] listen: a port in use
        raise CliError(str(error), error.exit_code) from None


def load_config_or_exit(cli_value: str | None) -> Config:
    """The config, or a CliError carrying the loader's one-line message and exit status 2."""
    from plotman_tui.config import ConfigError, load_config, resolve_config_path

    path = resolve_config_path(cli_value)
    try:
        # Dirs are checked per dir by the commands themselves: an unplugged disk must not
        # stop `status` from showing the jobs on the others.
        return load_config(path, check_dirs=False)
    except ConfigError as error:
        raise CliError(str(error), EXIT_USAGE) from None


def _run_loop(
    args: argparse.Namespace,
    *,
    once: bool,
    json_lines: bool,
    config: Config | None = None,
    plotting: bool = True,
    archiving: bool = True,
) -> int:
    from plotman_tui.config import resolve_config_path
    from plotman_tui.headless import HeadlessError, run_headless

    if config is None:
        config = load_config_or_exit(args.config)
    path = resolve_config_path(args.config)
    try:
        return run_headless(
            config, path, once=once, json_lines=json_lines, plotting=plotting, archiving=archiving
        )
    except HeadlessError as error:
        raise CliError(str(error), EXIT_USAGE) from None


def _scan(config: Config) -> Snapshot:
    from plotman_tui.appdirs import cache_dir
    from plotman_tui.farm.discovery import scan_once

    # Each run is a new process: the cache lets it resume every log where the last run stopped.
    return scan_once(config.logging.plots, cache=cache_dir() / "logstate.json")


def _width(config: Config) -> int | None:
    from plotman_tui.report import terminal_width

    return terminal_width(config.user_interface.use_stty_size)


def _logs_of(jobs: Sequence[Job]) -> list[str]:
    """The running jobs' logs: the ETA's history leaves them out (they are not finished)."""
    return [job.log_file for job in jobs if job.log_file]


def _cmd_status(config: Config, args: argparse.Namespace) -> int:
    from plotman_tui.farm.eta import load_model

    snapshot = _scan(config)
    eta = load_model(config.logging.plots, running_logs=_logs_of(snapshot.jobs))
    if args.json:
        import json

        from plotman_tui.report import replot_progress_to_json, snapshot_to_json

        data = snapshot_to_json(snapshot, eta)
        replotting = _replotting(config)
        if replotting:
            # Read as dirs reads it: the farmer listed once (up to its timeout), the action log.
            progress = _replot_progress(replotting, _farmer_look([], replotting)[1])
            data["replot"] = {
                name: {**replot_progress_to_json(found), "problem": problem}
                for name, (found, problem) in progress.items()
            }
        print(json.dumps(data, indent=None))
    else:
        from plotman_tui.report import render_status

        print(render_status(snapshot, _width(config), eta))
    return EXIT_OK


def _usage_check(ids: Sequence[str]) -> None:
    """A malformed id is a usage error (exit 2), found before any scan."""
    from plotman_tui.farm.discovery import job_id_errors

    usage = job_id_errors(ids)
    if usage:
        raise CliError("; ".join(usage), EXIT_USAGE)


def _selected(config: Config, ids: Sequence[str]) -> list[Job]:
    from plotman_tui.farm.discovery import select_jobs

    _usage_check(ids)
    jobs, errors = select_jobs(_scan(config).jobs, ids)
    if errors:
        raise CliError("; ".join(errors), EXIT_NO_JOB)
    return jobs


def _running_or_finished(
    config: Config, ids: Sequence[str], running: Sequence[Job] | None = None
) -> tuple[list[Job], list[FinishedLog]]:
    """The running jobs ``ids`` name and, for a plot id prefix no running job has, the log in
    the log dir that has it (a job that has ended). Exit status 3 for an id that names nothing,
    or several logs. ``running``: the jobs of a scan already made (else one is made)."""
    import re

    from plotman_tui.farm.discovery import select_jobs
    from plotman_tui.farm.finished import find_finished_logs

    _usage_check(ids)
    if running is None:
        running = _scan(config).jobs
    jobs: list[Job] = []
    logs: list[FinishedLog] = []
    errors: list[str] = []
    for text in ids:
        chosen, problems = select_jobs(running, [text])
        prefix = text.lower()
        ended = (
            problems
            and re.fullmatch(r"[0-9a-f]+", prefix) is not None
            and not any((job.plot_id or "").startswith(prefix) for job in running)
        )
        if not ended:
            errors += problems
            jobs += [job for job in chosen if job not in jobs]
            continue
        found = find_finished_logs(config.logging.plots, prefix)
        if len(found) == 1:
            logs += [log for log in found if log not in logs]
        elif found:
            names = ", ".join(f"{log.plot_id[: len(text) + 4]} ({log.path})" for log in found)
            errors.append(
                f"id prefix {text!r} is ambiguous: {len(found)} ended jobs' logs have it: "
                f"{names}; give a longer prefix"
            )
        else:
            errors += [
                f"{problem}; nor has any log in {config.logging.plots}" for problem in problems
            ]
    if errors:
        raise CliError("; ".join(errors), EXIT_NO_JOB)
    return jobs, logs


def _cmd_details(config: Config, args: argparse.Namespace) -> int:
    import time

    from plotman_tui.farm.eta import load_model
    from plotman_tui.farm.finished import read_finished_log
    from plotman_tui.report import render_details, render_finished_details

    _usage_check(args.ids)
    running = _scan(config).jobs
    jobs, logs = _running_or_finished(config, args.ids, running)
    eta = load_model(config.logging.plots, running_logs=_logs_of(running)) if jobs else None
    now = time.time()
    parts = [
        render_details(job, eta.estimate(job, now) if eta is not None else None, now)
        for job in jobs
    ]
    parts += [render_finished_details(read_finished_log(log)) for log in logs]
    print("\n\n".join(parts) if parts else _NO_JOBS)
    return EXIT_OK


def _cmd_files(config: Config, args: argparse.Namespace) -> int:
    from plotman_tui.report import files_json, render_files

    jobs = _selected(config, args.ids)
    if args.json:
        print(files_json(jobs))
        return EXIT_OK
    print("\n".join(render_files(job) for job in jobs) if jobs else _NO_JOBS)
    return EXIT_OK


_NO_JOBS = "No plot jobs running."


def _cmd_loop_switch(args: argparse.Namespace) -> int:
    """``plotting|archiving pause|resume|status``: the host-wide flag in the data dir that
    every loop of this machine (``--no-ui``, ``plot``, ``archive``, the dashboard) obeys."""
    from plotman_tui.farm.actionlog import default_action_log
    from plotman_tui.farm.pauseflags import Loop, PauseFlagError, read_pause, set_pause

    loop = Loop(args.command)
    try:
        if args.switch == "status":
            print(read_pause(loop).describe(loop))
            return EXIT_OK
        print(set_pause(loop, args.switch == "pause", action_log=default_action_log()))
    except PauseFlagError as error:
        raise CliError(str(error)) from None
    return EXIT_OK


def _cmd_watch(config: Config, args: argparse.Namespace) -> int:
    if not args.json:
        raise CliError("watch prints JSON lines for the fleet view: run it as `watch --json`", 2)
    from plotman_tui.fleet.watch import run_watch

    return run_watch(config, sys.stdout)


def _cmd_fleet(config: Config, args: argparse.Namespace) -> int:
    from plotman_tui.fleet.status import fleet_status

    return fleet_status(config, json_output=args.json)


def _cmd_logs(config: Config, args: argparse.Namespace) -> int:
    if args.id.lower() == "all":  # any case, as every other id is read
        raise CliError("logs takes one job id, not 'all'", EXIT_USAGE)
    jobs, logs = _running_or_finished(config, [args.id])
    if logs:  # a job that has ended: its log as it is, nothing to follow
        path, follow_pid = logs[0].path, None
    else:
        (job,) = jobs
        if job.log_file is None:
            raise CliError(
                f"job {args.id} (pid {job.pid}) has no log in {config.logging.plots}", EXIT_FAILED
            )
        path, follow_pid = job.log_file, job.pid if args.follow else None
    from plotman_tui.farm.logfollow import LogFollowError, copy_log

    try:
        copy_log(path, sys.stdout.buffer, follow_pid=follow_pid)
    except LogFollowError as error:
        raise CliError(str(error)) from None
    except BrokenPipeError:
        raise
    except OSError as error:
        raise CliError(f"cannot write the log out: {error.strerror or error}") from None
    return EXIT_OK


def _job_control(source: str) -> JobControl:
    """Job control as the CLI does it: recorded in the action log, ``source`` saying how."""
    from plotman_tui.farm.actionlog import default_action_log
    from plotman_tui.farm.jobcontrol import JobControl

    return JobControl(default_action_log(), source)


def _record(outcome: Outcome) -> None:
    """Say so when the action log did not take an action's record (never fatal)."""
    if outcome.log_problem is not None:
        print(f"plotman-tui: {outcome.log_problem}", file=sys.stderr)


def _signal_jobs(config: Config, ids: Sequence[str], action: str) -> int:
    control = _job_control("cli")
    act = control.suspend if action == "suspend" else control.resume
    failed = False
    for job in _selected(config, ids):
        outcome = act(job)
        print(outcome.message)
        _record(outcome)
        failed = failed or not outcome.ok
    return EXIT_FAILED if failed else EXIT_OK


def _cmd_suspend(config: Config, args: argparse.Namespace) -> int:
    return _signal_jobs(config, args.ids, "suspend")


def _cmd_resume(config: Config, args: argparse.Namespace) -> int:
    return _signal_jobs(config, args.ids, "resume")


def _cmd_kill(config: Config, args: argparse.Namespace) -> int:
    from plotman_tui.farm.control import KillPlan
    from plotman_tui.farm.jobcontrol import StopSignal, StopSignals, release_held
    from plotman_tui.farm.units import human_bytes

    if not args.force and not sys.stdin.isatty():
        raise CliError("kill asks for confirmation: run it in a terminal, or pass --force", 2)
    jobs = _selected(config, args.ids)
    control = _job_control("cli --force" if args.force else "cli")

    def let_go(why: str) -> None:
        # Never leave a job stopped behind a question nobody answers (the terminal may be gone).
        for outcome in release_held(why):
            with contextlib.suppress(OSError):
                print(outcome.message)
                _record(outcome)

    failed = False
    # A hangup (the SSH session dropped), SIGTERM or Ctrl-C cuts the question short, and the
    # job it held runs on; during a kill, the kill finishes first.
    with StopSignals() as stops:
        try:
            for job in jobs:
                stops.check()
                held = control.prepare_kill(job)
                if not isinstance(held, KillPlan):
                    print(held.message)
                    _record(held)
                    failed = True
                    continue
                print(held.message + (":" if held.files else ""))
                for temp in held.files:
                    print(f"  {human_bytes(temp.size_bytes).rjust(10)}  {temp.path}")
                for note in held.notes:
                    print(f"  note: {note}")
                if not args.force:
                    with stops.interruptible():
                        confirmed, why = _confirm(f"Kill {(job.plot_id or str(job.pid))[:8]}?")
                    if not confirmed:
                        outcome = control.cancel_kill(held, why)
                        print(outcome.message)
                        _record(outcome)
                        continue
                outcome = control.execute_kill(held)
                print(outcome.message)
                for error in outcome.errors:
                    print(f"  ! {error}")
                _record(outcome)
                failed = failed or not outcome.ok
        except StopSignal as stop:
            with contextlib.suppress(OSError):
                print()  # after the question
            let_go(str(stop))
            raise CliError(str(stop), EXIT_INTERRUPTED) from None
        except BaseException as error:
            let_go(f"the command failed ({type(error).__name__}: {error})")
            raise
    return EXIT_FAILED if failed else EXIT_OK


def _confirm(question: str) -> tuple[bool, str]:
    """Whether the answer is yes; if not, why not (for the action log)."""
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False, "no answer (end of input)"
    if answer.strip().lower() in ("y", "yes"):
        return True, ""
    return False, "answered no"


def _cmd_history(args: argparse.Namespace) -> int:
    import time

    from plotman_tui.farm.actionlog import default_action_log, format_entry, parse_since

    since = None
    if args.since:
        try:
            since = parse_since(args.since, time.time())
        except ValueError as error:
            raise CliError(str(error), EXIT_USAGE) from None
    log = default_action_log()
    try:
        entries = log.entries(since)
    except OSError as error:
        raise CliError(
            f"cannot read the action log {error.filename or log.path}: {error.strerror or error}"
        ) from None
    if args.json:
        for entry in entries:
            print(entry.to_json())
    elif entries:
        print("\n".join(format_entry(entry, details=True) for entry in entries))
    else:
        print("No actions recorded" + (" in that time." if since is not None else " yet."))
    return EXIT_OK


def _configured_dirs(config: Config) -> tuple[dict[str, DirInfo], dict[str, str], Snapshot]:
    """Every configured dir's sample, which configured dir each job dir is, and the jobs."""
    from plotman_tui.dirview import configured_dirs, match_dirs, sample_dirs

    tmp, dst = configured_dirs(config)
    snapshot = _scan(config)
    return sample_dirs(tmp, dst), match_dirs(snapshot.jobs, [*tmp, *dst]), snapshot


def _cmd_dirs(config: Config, args: argparse.Namespace) -> int:
    from plotman_tui.dirview import dst_rows, tmp_rows
    from plotman_tui.report import render_dirs

    infos, dir_of, snapshot = _configured_dirs(config)
    archiving = bool(config.archiving.active_targets)
    tmp = tmp_rows(config, snapshot.jobs, dir_of, infos)
    dst = dst_rows(config, snapshot.jobs, dir_of, infos, with_priority=archiving)
    print(render_dirs(tmp, dst, _width(config), with_priority=archiving))
    if archiving:
        print()
        print(_archive_dirs(config))
    return EXIT_OK


def _archive_dirs(config: Config) -> str:
    """The archive dirs of every enabled target, read side by side (a silent farmer costs
    at most the timeout), and each replotting target's progress."""
    from plotman_tui.dirview import archive_rows
    from plotman_tui.farm.archive.transfer import transfer_destination
    from plotman_tui.farm.units import printable
    from plotman_tui.report import render_archive_dirs, replot_progress_text

    targets = config.archiving.active_targets
    replotting = _replotting(config)
    spaces, listings = _farmer_look(targets, replotting)
    problems = []
    for target, space in zip(targets, spaces, strict=True):
        if space.problem is None:
            continue
        where = f"{target.type}"
        if target.archive_dirs:
            with contextlib.suppress(ValueError):
                sample = transfer_destination(target, "/x.plot", target.archive_dirs[0])
                where = f"{target.type}: {os.path.dirname(sample)}/"
        problems.append(f"{target.name} ({where}): {space.problem}")
    rows = archive_rows(config, {space.target: space for space in spaces})
    text = render_archive_dirs(rows, problems, _width(config))
    if replotting:
        progress = _replot_progress(replotting, listings)
        lines = [replot_progress_text(found, problem) for found, problem in progress.values()]
        text += "\n\n" + "\n".join(map(printable, lines))
    return text


def _replotting(config: Config) -> list[ArchiveTarget]:
    """The enabled archive targets whose replot rules are on (replotter.replotting_targets'
    rule, without importing the replotter and asyncssh: status --json asks on every run)."""
    return [t for t in config.archiving.active_targets if t.replot is not None and t.replot.enabled]


def _farmer_look(
    space_targets: Sequence[ArchiveTarget], listed_targets: Sequence[ArchiveTarget]
) -> tuple[list[TargetSpace], dict[str, FarmerListing]]:
    """The free space of ``space_targets`` and the plot files of ``listed_targets``, read side
    by side over one SSH connection per target (a silent farmer costs at most the timeout).
    Only reads: nothing on the farmer is changed."""
    import asyncio

    from plotman_tui.farm.archive.farmer_files import list_plot_files
    from plotman_tui.farm.archive.space import SshConnections, read_target_space
    from plotman_tui.farm.wiring import SPACE_TIMEOUT_S

    async def look() -> tuple[list[TargetSpace], list[FarmerListing]]:
        connections = SshConnections()
        try:
            spaces = asyncio.gather(
                *(
                    read_target_space(t, timeout_s=SPACE_TIMEOUT_S, connection_cache=connections)
                    for t in space_targets
                )
            )
            listings = asyncio.gather(
                *(
                    list_plot_files(t, connections=connections, timeout_s=SPACE_TIMEOUT_S)
                    for t in listed_targets
                )
            )
            return list(await spaces), list(await listings)
        finally:
            await connections.close()

    spaces, listings = asyncio.run(look())
    return spaces, {
        target.name: found for target, found in zip(listed_targets, listings, strict=True)
    }


def _replot_history() -> tuple[ReplotHistory, str | None]:
    """What the action log says this machine sent and removed; and why it could not be read."""
    from plotman_tui.farm.actionlog import default_action_log
    from plotman_tui.farm.archive.replotter import replot_history

    log = default_action_log()
    try:
        return replot_history(log.entries()), None
    except OSError as error:
        why = f"the action log {error.filename or log.path} could not be read: {error.strerror}"
        return replot_history(()), why


def _replot_progress(
    targets: Sequence[ArchiveTarget], listings: Mapping[str, FarmerListing]
) -> dict[str, tuple[ReplotProgress, str | None]]:
    """Each replotting target's progress, and why its farmer's plots are not known (if so)."""
    import time

    from plotman_tui.farm.archive.replot import moved_since_first_removal, replot_progress

    history, history_problem = _replot_history()
    now = time.time()
    found: dict[str, tuple[ReplotProgress, str | None]] = {}
    for target in targets:
        assert target.replot is not None  # _replotting's
        listing = listings.get(target.name)
        problem = listing.problem if listing is not None else "not listed"
        removals = history.removals.get(target.name, ())
        moved = moved_since_first_removal(removals, history.sent_at.get(target.name, ()))
        progress = replot_progress(
            target.name,
            listing if problem is None else None,
            target.replot,
            history.sent_names,
            removals,
            moved,
            now,
        )
        found[target.name] = (progress, problem or history_problem)
    return found


def _cmd_replot(config: Config, args: argparse.Namespace) -> int:
    """``replot plan``: what each target's replot rules match on its farmer, changing nothing."""
    import time

    from plotman_tui.farm.archive.replot import ReplotPlan, plan_summary

    targets = list(config.archiving.targets)
    if args.target is not None:
        targets = [t for t in targets if t.name == args.target]
        if not targets:
            names = ", ".join(t.name for t in config.archiving.targets) or "none configured"
            raise CliError(f"no archive target named {args.target!r} (targets: {names})", 2)
    listed = [t for t in targets if t.replot is not None]
    listings = _farmer_look([], listed)[1] if listed else {}
    history, history_problem = _replot_history() if listed else (None, None)
    protected = history.sent_names if history is not None else frozenset()
    now = time.time()
    plans = [
        plan_summary(listings[t.name], t.replot, protected, now)
        if t.replot is not None
        else ReplotPlan(t.name, None, ())
        for t in targets
    ]
    if history_problem is not None:
        print(
            f"plotman-tui: warning: {history_problem}; the plots this machine sent are counted "
            "as matching",
            file=sys.stderr,
        )
    if args.json:
        import json

        from plotman_tui.report import replot_plan_to_json

        print(json.dumps(replot_plan_to_json(plans)))
    else:
        from plotman_tui.report import render_replot_plan

        print(render_replot_plan(plans, _width(config)))
    failed = any(
        plan.problem is not None or any(d.problem is not None for d in plan.dirs) for plan in plans
    )
    return EXIT_FAILED if failed else EXIT_OK


def _cmd_dsched(config: Config, args: argparse.Namespace) -> int:
    from plotman_tui.dirview import dst_rows
    from plotman_tui.report import render_dsched

    infos, dir_of, snapshot = _configured_dirs(config)
    print(render_dsched(dst_rows(config, snapshot.jobs, dir_of, infos, with_unconfigured=True)))
    return EXIT_OK


def _cmd_analyze(config: Config, args: argparse.Namespace) -> int:
    from plotman_tui.history_report import HistoryReportError, run_analyze

    try:
        return run_analyze(config, args, _width(config))
    except HistoryReportError as error:
        raise CliError(str(error), error.exit_code) from None


def _cmd_export(config: Config, args: argparse.Namespace) -> int:
    from plotman_tui.history_report import HistoryReportError, run_export

    try:
        return run_export(config, args)
    except HistoryReportError as error:
        raise CliError(str(error), error.exit_code) from None


def _cmd_metrics(config: Config, args: argparse.Namespace) -> int:
    from plotman_tui.metrics import MetricsError, run_metrics

    try:
        return run_metrics(config, serve=args.serve)
    except MetricsError as error:
        raise CliError(str(error), error.exit_code) from None


def _cmd_version() -> int:
    import platform

    import psutil

    print(f"plotman-tui {__version__}")
    print(f"python {platform.python_version()}, psutil {psutil.__version__}")
    return EXIT_OK


def _cmd_config(args: argparse.Namespace) -> int:
    from plotman_tui.config import ConfigError, resolve_config_path, write_template

    path = resolve_config_path(args.config)
    action = args.config_command
    try:
        if action == "path":
            print(f"{path} ({_path_state(path)})")
        elif action == "generate":
            write_template(path, force=args.force)
            print(f"wrote {path}")
        else:
            return _check_config(path)
    except ConfigError as error:
        raise CliError(str(error), getattr(error, "exit_code", EXIT_USAGE)) from None
    return EXIT_OK


def _path_state(path: Path) -> str:
    """What is at the config path, in words for ``config path``."""
    import stat

    from plotman_tui.appdirs import file_kind

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "does not exist yet (plotman-tui config generate)"
    except OSError as error:
        return f"cannot be looked at: {error.strerror or error}"
    return "exists" if stat.S_ISREG(mode) else f"{file_kind(mode)}, not a config file"


def _check_config(path: Path) -> int:
    """``config check``: every problem on a line of its own (exit 2), then the warnings, which
    leave a valid file's status at 0; a valid file is summarised."""
    from plotman_tui.config import summarize
    from plotman_tui.config.checks import check_config_file

    report = check_config_file(path)
    for problem in report.problems:
        print(f"plotman-tui: {problem}", file=sys.stderr)
    for warning in report.warnings:
        print(f"plotman-tui: warning: {warning}", file=sys.stderr)
    if report.problems or report.config is None:
        count = len(report.problems)
        print(f"{path}: {count} problem{'' if count == 1 else 's'}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{path}: ok" + (f" ({len(report.warnings)} warnings)" if report.warnings else ""))
    print(summarize(report.config))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
