"""The commented example config that ``plotman-tui config generate`` writes.

The file is built from the schema: every table and key of the dataclasses is written, in their
order, under a comment saying what it does, its unit and its default (the default is read from the
schema, so the two cannot drift apart). A schema field without a help text below is a KeyError
at render time, which the template test turns into a failure.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import tempfile
import textwrap
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from plotman_tui.config.errors import ConfigError, KeyPath, format_key_path
from plotman_tui.config.loader import is_required, parse_config
from plotman_tui.config.schema import (
    REMOVE_VARIABLES,
    TRANSFER_VARIABLES,
    ArchiveTarget,
    ArchivingConfig,
    Bladebit2DiskOptions,
    BladebitCudaOptions,
    BladebitOptions,
    ChiaOptions,
    CommandsConfig,
    Config,
    DirectoriesConfig,
    FleetConfig,
    FleetHost,
    GigahorseOptions,
    InteractiveConfig,
    LoggingConfig,
    MadmaxOptions,
    MetricsConfig,
    PlotterType,
    PlottingConfig,
    ReplotRules,
    SchedulingConfig,
    TmpOverride,
    UserInterfaceConfig,
)

_WIDTH: Final = 99

_INTRO: Final = """\
plotman-tui configuration (TOML). Section and key names follow plotman's plotman.yaml.
Check it with `plotman-tui config check`.

Paths: "~" is your home directory; a relative path is relative to the directory of this file.
Keys written as "# key = value" are optional: remove the "# " to use them. A key that is left
out takes the default named in its comment.
"""

_SECTION_HELP: Final[Mapping[type, str]] = {
    LoggingConfig: "Where logs are written.",
    DirectoriesConfig: "Where plots are made and where finished plots go.",
    SchedulingConfig: (
        "When a new plot job may start. A job starts on a tmp dir only if fewer than "
        "tmpdir_stagger_phase_limit of that dir's jobs are still before phase "
        "tmpdir_stagger_phase_major:tmpdir_stagger_phase_minor, the dir runs fewer than "
        "tmpdir_max_jobs jobs, fewer than global_max_jobs run in all, and the last job started "
        "at least global_stagger_m minutes ago."
    ),
    PlottingConfig: "Which plotter runs new jobs, and the keys the plots are made for.",
    ChiaOptions: 'The stock plotter, `chia plots create` (used when type = "chia").',
    MadmaxOptions: 'The madMAx plotter, chia_plot (used when type = "madmax").',
    BladebitOptions: 'BladeBit\'s RAM plotter, needs about 416 GiB of RAM (type = "bladebit").',
    Bladebit2DiskOptions: 'BladeBit\'s disk plotter, `bladebit diskplot` (type = "bladebit2disk").',
    BladebitCudaOptions: 'BladeBit\'s GPU plotter, bladebit_cuda (type = "bladebit_cuda").',
    GigahorseOptions: (
        'madMAx\'s Gigahorse GPU plotter, cuda_plot_k32 and its siblings (type = "gigahorse"). '
        "One job plots count plots in a row; -t is the tmp dir, -2 tmp2, -d the dst dir."
    ),
    UserInterfaceConfig: "The dashboard.",
    CommandsConfig: "Settings of single commands (only the dashboard has some so far).",
    InteractiveConfig: "The dashboard (`plotman-tui` without a command) when it starts.",
    MetricsConfig: (
        "Prometheus metrics (plotman's names, then plotman-tui's own): `plotman-tui metrics` "
        "prints them once, `plotman-tui metrics --serve [HOST:]PORT` serves them, and with "
        "listen set here --no-ui, plot, archive and the dashboard serve them while they run."
    ),
}

_FLEET_HELP: Final = (
    "Other plotting machines shown and steered from this one's dashboard (F), and by "
    "`plotman-tui fleet status`, over SSH alone: each runs `plotman-tui watch --json`, no "
    "daemon or port of its own. Optional; with no host below there is no fleet."
)

_HOSTS_HELP: Final = (
    "One table per plotting machine. Its host key must be in known_hosts (run `ssh` to it once, "
    "or ssh-keyscan) and the key or agent must log in without a password. Example:"
)

_HOST_EXAMPLE: Final[Mapping[str, object]] = {
    "name": "plotter2",
    "host": "192.168.1.21",
    "port": 22,
    "user": "chia",
    "identity_file": "~/.ssh/id_ed25519",
    "known_hosts": "~/.ssh/known_hosts",
    "command": "/opt/plotman-tui/.venv/bin/plotman-tui --config /etc/plotman-tui.toml",
}

_OVERRIDE_HELP: Final = (
    "Per-tmp-dir limits: one table per tmp dir, named by the dir exactly as listed in tmp. "
    "A key left out uses the [scheduling] value; the phase major and minor go together. "
    "Example for a bigger, faster first tmp dir:"
)

_ARCHIVING_HELP: Final = (
    "Moving finished plots off this machine, to the farmer's disks. Optional; nothing is moved "
    "unless enabled = true."
)

_TARGETS_HELP: Final = (
    "Where plots go: one [[archiving.targets]] table per target; all enabled targets are used "
    "side by side, and a plot goes to one of them only. The oldest plot goes first, from the "
    "fullest dst dir, leaving alone a dst dir that a job is about to copy its plot to "
    "(phase 3:4 and later). Below is a commented example of each type: to use one, remove the "
    '"# " in front of its lines. Each key is explained where it first appears.'
)

# One commented example per target type: (what it is, its keys in the order shown). Every key of
# ArchiveTarget is in at least one of them (a test checks), and explained at its first use.
_TARGET_EXAMPLES: Final[tuple[tuple[str, Mapping[str, object]], ...]] = (
    (
        'An rsync daemon module on the farmer (type = "rsyncd"), the fastest way over a network. '
        "The free space of its archive dirs is read with df over SSH, so SSH login must work too.",
        {
            "name": "farmer",
            "type": "rsyncd",
            "host": "farmer.lan",
            "user": "chia",
            "module": "plots",
            "module_root": "/farm",
            "archive_dirs": ["/farm/disk00", "/farm/disk01"],
            "enabled": True,
            "max_concurrent": 1,
            "free_space_margin_gib": 1,
            "bwlimit_kbps": 80000,
            "rsync_options": ["--timeout=300"],
            "rsync_port": 873,
            "ssh_port": 22,
            "known_hosts": "~/.ssh/known_hosts",
            "identity_file": "~/.ssh/id_ed25519",
            "verify_host_key": True,
        },
    ),
    (
        'rsync over SSH (type = "ssh"): needs only an SSH login on the farmer; the encryption '
        "costs CPU time on both machines.",
        {
            "name": "farmer-ssh",
            "type": "ssh",
            "host": "farmer.lan",
            "user": "chia",
            "archive_dirs": ["/farm/disk02", "/farm/disk03"],
            "replot": {
                "uncompressed": True,
                "older_than": datetime.date(2023, 6, 1),
                "k": [32],
                "names": ["plot-k32-*.plot"],
                "compression_below": 7,
                "keep_free_gib": 0,
                "dry_run": True,
                "enabled": True,
            },
        },
    ),
    (
        'Disks of this machine, or network shares mounted on it (type = "local").',
        {
            "name": "usb-disks",
            "type": "local",
            "archive_dirs": ["/mnt/farm/00", "/mnt/farm/01"],
        },
    ),
    (
        'Your own commands, for any other way (type = "script"). They run without a shell; a '
        "command is an array: the program, then its arguments.",
        {
            "name": "my-script",
            "type": "script",
            "archive_dirs": ["/farm/disk04"],
            "transfer_command": ["/usr/local/bin/send-plot", "{source}", "{archive_dir}"],
            "free_space_command": [
                "ssh",
                "chia@farmer.lan",
                "df",
                "--output=avail",
                "-B1",
                "{archive_dir}",
            ],
            "list_command": ["/usr/local/bin/list-plots", "{archive_dir}"],
            "remove_command": ["/usr/local/bin/remove-plot", "{archive_dir}", "{plot_name}"],
        },
    ),
)

# (table, key) -> what the key does and its unit. The default is appended from the schema.
_HELP: Final[Mapping[tuple[type, str], str]] = {
    (LoggingConfig, "plots"): (
        "Directory for the plot jobs' logs (each plotter's output). They are read to follow each "
        "job's progress, so a fast local disk is best. Required; must exist."
    ),
    (LoggingConfig, "transfers"): "Directory for the logs of plot transfers (archiving).",
    (LoggingConfig, "application"): "File for plotman-tui's own log.",
    (DirectoriesConfig, "tmp"): (
        "Temp dirs to plot in, at least one. New jobs are spread over all of them; each should "
        "be its own physical disk. Required; each must exist."
    ),
    (DirectoriesConfig, "dst"): (
        "Dirs the finished plots are written to, spread over all of them. If the list is empty "
        "the plots stay in the tmp dir they were made in. Each must exist."
    ),
    (DirectoriesConfig, "tmp2"): (
        "One shared second temp dir (the plotter's -2 option), used by every job. Must exist. "
        "When left out, jobs use only their tmp dir."
    ),
    (TmpOverride, "tmpdir_stagger_phase_major"): (
        "This dir's tmpdir_stagger_phase_major (needs tmpdir_stagger_phase_minor too)."
    ),
    (TmpOverride, "tmpdir_stagger_phase_minor"): (
        "This dir's tmpdir_stagger_phase_minor (needs tmpdir_stagger_phase_major too)."
    ),
    (TmpOverride, "tmpdir_stagger_phase_limit"): "This dir's tmpdir_stagger_phase_limit.",
    (TmpOverride, "tmpdir_max_jobs"): "This dir's tmpdir_max_jobs.",
    (SchedulingConfig, "tmpdir_stagger_phase_major"): (
        "Plot phase (1 and up) that a tmp dir's jobs must reach before another job starts there."
    ),
    (SchedulingConfig, "tmpdir_stagger_phase_minor"): (
        "Step within that phase (the table, 0 and up): together major:minor, e.g. 2:1."
    ),
    (SchedulingConfig, "tmpdir_stagger_phase_limit"): (
        "How many of a tmp dir's jobs may be before major:minor when a new one starts there "
        "(at least 1)."
    ),
    (SchedulingConfig, "tmpdir_max_jobs"): "Most jobs at a time on one tmp dir (at least 1).",
    (SchedulingConfig, "global_max_jobs"): "Most jobs at a time in all (at least 1).",
    (SchedulingConfig, "global_stagger_m"): (
        "Minutes between two job starts, over all tmp dirs (0: no wait)."
    ),
    (SchedulingConfig, "polling_time_s"): (
        "Seconds between two checks whether a new job may start (at least 1)."
    ),
    (SchedulingConfig, "global_max_phase1"): (
        "Most jobs in phase 1 at once over all tmp dirs: phase 1 is the CPU- and RAM-heavy "
        "one (at least 1). When left out, there is no such limit."
    ),
    (SchedulingConfig, "tmp_min_free_gib"): (
        "GiB a tmp dir must have free before a job starts on it. When left out, a default "
        "for the plot's k (what one job of that size needs)."
    ),
    (SchedulingConfig, "dst_min_free_gib"): (
        "GiB a dst dir keeps free: a job starts only when the dst holds its plot, every plot "
        "already headed there and this reserve."
    ),
    (PlottingConfig, "type"): (
        "The plotter new jobs use: chia, madmax, bladebit, bladebit2disk or bladebit_cuda. "
        "Its options are in the [plotting.<type>] table below. Required."
    ),
    (PlottingConfig, "nice"): (
        "Niceness of new plot jobs, -20 (first) to 19 (last); 15 keeps the machine responsive."
    ),
    (PlottingConfig, "farmer_pk"): (
        "Farmer public key (see `chia keys show`). chia reads it from its keychain when left "
        "out; madMAx and BladeBit need it here."
    ),
    (PlottingConfig, "pool_pk"): (
        "Pool public key, for solo plots (OG plots). Use pool_pk or pool_contract_address, "
        "not both; madMAx and BladeBit need one of them."
    ),
    (PlottingConfig, "pool_contract_address"): (
        "Pool contract address (xch1..., see `chia plotnft show`), for plots that can join a "
        "pool. Use pool_pk or pool_contract_address, not both."
    ),
    (ChiaOptions, "executable"): "The chia command: a name on PATH or a full path.",
    (ChiaOptions, "k"): (
        "Plot size k (-k). 32 is the smallest the network farms; 18 to 31 only for tests; "
        "at most 50."
    ),
    (ChiaOptions, "e"): "Disable bitfield plotting (-e): slower on most machines.",
    (ChiaOptions, "n_threads"): "Threads per job (-r).",
    (ChiaOptions, "n_buckets"): "Buckets the data is sorted in (-u): more buckets, less memory.",
    (ChiaOptions, "job_buffer"): "Memory per job in MiB (-b).",
    (ChiaOptions, "x"): ("Do not add the dst dir to the harvester's plot directories (-x)."),
    (
        MadmaxOptions,
        "executable",
    ): "The chia_plot command for k up to 32: a name on PATH or a path.",
    (MadmaxOptions, "executable_k34"): "The chia_plot_k34 command, used for k 33 and 34.",
    (MadmaxOptions, "k"): "Plot size k (-k), 29 to 34.",
    (MadmaxOptions, "n_threads"): "Threads per job (-r).",
    (MadmaxOptions, "n_buckets"): "Buckets in phases 1 and 2 (-u).",
    (MadmaxOptions, "n_buckets3"): "Buckets in phases 3 and 4 (-v).",
    (MadmaxOptions, "n_rmulti2"): "Thread multiplier for phase 2 (-K).",
    (MadmaxOptions, "port"): (
        "Network port the plot is made for (-x): only for forks of chia; chia_plot's own "
        "default when left out."
    ),
    (BladebitOptions, "executable"): "The bladebit command: a name on PATH or a full path.",
    (BladebitOptions, "threads"): "Threads (-t); all cores when left out.",
    (BladebitOptions, "no_numa"): "Disable NUMA-aware memory (--no-numa).",
    (Bladebit2DiskOptions, "executable"): "The bladebit command: a name on PATH or a full path.",
    (Bladebit2DiskOptions, "threads"): "Threads (-t); all cores when left out.",
    (Bladebit2DiskOptions, "no_numa"): "Disable NUMA-aware memory (--no-numa).",
    (Bladebit2DiskOptions, "buckets"): "Buckets (-b).",
    (Bladebit2DiskOptions, "cache_size"): (
        'RAM used as a cache for the tmp dir (--cache), with a unit, e.g. "32G"; none when '
        "left out."
    ),
    (Bladebit2DiskOptions, "f1_threads"): (
        "Threads for the F1 table (--f1-threads); the threads value when left out."
    ),
    (Bladebit2DiskOptions, "fp_threads"): (
        "Threads for the forward propagation (--fp-threads); the threads value when left out."
    ),
    (Bladebit2DiskOptions, "c_threads"): (
        "Threads for the C tables (--c-threads); the threads value when left out."
    ),
    (Bladebit2DiskOptions, "p2_threads"): (
        "Threads for phase 2 (--p2-threads); the threads value when left out."
    ),
    (Bladebit2DiskOptions, "p3_threads"): (
        "Threads for phase 3 (--p3-threads); the threads value when left out."
    ),
    (Bladebit2DiskOptions, "alternate"): "Alternate the tmp dirs between tables (--alternate).",
    (Bladebit2DiskOptions, "no_t1_direct"): "No direct I/O on the tmp dir (--no-t1-direct).",
    (Bladebit2DiskOptions, "no_t2_direct"): "No direct I/O on the tmp2 dir (--no-t2-direct).",
    (Bladebit2DiskOptions, "no_cpu_affinity"): (
        "Do not pin threads to CPU cores (--no-cpu-affinity)."
    ),
    (BladebitCudaOptions, "executable"): "The bladebit_cuda command: a name on PATH or a path.",
    (BladebitCudaOptions, "threads"): "CPU threads (-t); all cores when left out.",
    (BladebitCudaOptions, "no_numa"): "Disable NUMA-aware memory (--no-numa).",
    (BladebitCudaOptions, "device"): "Index of the GPU to plot on (--device), from 0.",
    (BladebitCudaOptions, "compress"): (
        "Compression level (--compress), 0 (none) to 9; higher levels need more farming power."
    ),
    (BladebitOptions, "compress"): (
        "Compression level (--compress, BladeBit 3), 0 (none) to 9; higher levels need more "
        "farming power."
    ),
    (GigahorseOptions, "executable"): (
        "The plotter command; {k} becomes the k (cuda_plot_k32). A name on PATH or a path."
    ),
    (GigahorseOptions, "k"): "Plot size k (26 to 34; the executable must be the one for it).",
    (GigahorseOptions, "compression"): (
        "Compression level (-C), 0 to 33; plots above C9 need Gigahorse's farmer, and higher "
        "levels more farming power."
    ),
    (GigahorseOptions, "count"): "Plots per job (-n); -1 plots until the job is stopped.",
    (GigahorseOptions, "device"): "Index of the first GPU to plot on (-g); device 0 when left out.",
    (GigahorseOptions, "devices"): "How many GPUs to plot on (-r); one when left out.",
    (GigahorseOptions, "streams"): "Parallel GPU streams (-S); Gigahorse's default when left out.",
    (GigahorseOptions, "max_tmp_gib"): (
        "Most memory to use for the plot's data, GiB (-M); Gigahorse decides when left out."
    ),
    (GigahorseOptions, "tmp3"): "A third tmp dir (-3), e.g. a RAM disk. Must exist.",
    (GigahorseOptions, "extra_dst"): (
        "More final dirs (-d, each in turn); @HOST sends to a Gigahorse plot sink on HOST."
    ),
    (GigahorseOptions, "wait_for_copy"): "Wait for each plot's copy before the next (-w).",
    (GigahorseOptions, "unique"): "Make each plot's temp files unique (-Z).",
    (UserInterfaceConfig, "use_stty_size"): (
        "Ask `stty` for the terminal size, for terminals that do not report resizes."
    ),
    (InteractiveConfig, "autostart_plotting"): "Start plot jobs as soon as the dashboard opens.",
    (InteractiveConfig, "autostart_archiving"): (
        "Start archiving as soon as the dashboard opens (when archiving is enabled)."
    ),
    (FleetConfig, "include_local"): (
        "Show this machine in the fleet too (its own dashboard is the one F leaves)."
    ),
    (FleetConfig, "hosts"): "The other machines ([[fleet.hosts]] tables).",
    (FleetHost, "name"): (
        'The name on the dashboard: letters, digits, ".", "_" and "-", different for each '
        'host and not "local". Required.'
    ),
    (FleetHost, "host"): "Its host name or address for SSH. Required.",
    (FleetHost, "port"): "Its SSH port.",
    (FleetHost, "user"): (
        "The user to log in as; the SSH default (~/.ssh/config, else yours) when left out."
    ),
    (FleetHost, "identity_file"): (
        "The private key to log in with; the SSH agent and the default keys when left out."
    ),
    (FleetHost, "known_hosts"): (
        "Where its host key is checked; ~/.ssh/known_hosts when left out. A changed key is refused."
    ),
    (FleetHost, "command"): (
        "How plotman-tui runs there, as a shell command line (with its --config when not the "
        "default); watch --json and the control commands are added to it."
    ),
    (FleetHost, "enabled"): "Watch this host (false leaves it out without deleting the table).",
    (MetricsConfig, "listen"): (
        'Serve http://HOST:PORT/metrics for Prometheus to scrape: "PORT" or "HOST:PORT" (host '
        '127.0.0.1 when left out; "0.0.0.0" for every address, "[::1]:9750" for IPv6). Not '
        "served when left out."
    ),
    (ArchivingConfig, "enabled"): (
        "Move finished plots to the targets below (true), or leave them where they are (false)."
    ),
    (ArchivingConfig, "min_plot_age_s"): (
        "Seconds a plot file must be unchanged before it is moved: a plot being copied into a "
        "dst dir by something else is left alone until it is complete."
    ),
    (ArchiveTarget, "name"): (
        'The target\'s name in logs and on the dashboard: letters, digits, ".", "_" and "-", '
        "different for each target. Required."
    ),
    (ArchiveTarget, "type"): (
        "How plots get there: local (rsync to dirs of this machine), rsyncd (to an rsync daemon "
        "on the farmer), ssh (rsync over SSH) or script (your own commands). Required."
    ),
    (
        ArchiveTarget,
        "host",
    ): "The farmer's host name or address. Required for rsyncd and ssh targets.",
    (ArchiveTarget, "user"): (
        "User name on the farmer, for SSH and the rsync daemon. When left out, the one "
        "~/.ssh/config names, else your own."
    ),
    (ArchiveTarget, "module"): (
        "The rsync daemon's module (its [name] in the farmer's rsyncd.conf). "
        "Required for rsyncd targets."
    ),
    (ArchiveTarget, "module_root"): (
        "The farmer dir that module serves (its path in rsyncd.conf); the archive dirs must be "
        "in it. Required for rsyncd targets."
    ),
    (ArchiveTarget, "archive_dirs"): (
        "Dirs the plots go to, as absolute paths on the farmer (for a local target: dirs of this "
        "machine; for a script target: whatever your commands take). Each plot goes to the one "
        "with the most free space. Required."
    ),
    (ArchiveTarget, "enabled"): "Use this target (true), or keep it here but idle (false).",
    (ArchiveTarget, "max_concurrent"): "Most plots sent to this target at once (at least 1).",
    (ArchiveTarget, "free_space_margin_gib"): (
        "GiB an archive dir keeps free beyond the plot and the plots already on their way there."
    ),
    (ArchiveTarget, "bwlimit_kbps"): (
        "Bandwidth limit of each transfer in KiB/s (rsync's --bwlimit); none when left out. "
        "Not for script targets."
    ),
    (ArchiveTarget, "rsync_options"): (
        'More rsync options, each one string starting with "-" (write --option=value). '
        "Not for script targets."
    ),
    (ArchiveTarget, "rsync_port"): "Port of the rsync daemon on the farmer.",
    (ArchiveTarget, "ssh_port"): "SSH port of the farmer.",
    (ArchiveTarget, "known_hosts"): (
        "File with the farmer's host key, checked before anything is sent; ~/.ssh/known_hosts "
        "when left out."
    ),
    (ArchiveTarget, "identity_file"): (
        "SSH private key; when left out, the SSH agent's keys and the default ones (~/.ssh/id_*)."
    ),
    (ArchiveTarget, "verify_host_key"): (
        "Check the farmer's host key against known_hosts. Turn it off only on a network you "
        "trust: anyone in between could then pose as the farmer."
    ),
    (ArchiveTarget, "transfer_command"): (
        "Sends one plot: "
        + "; ".join(f"{{{name}}} is {text}" for name, text in TRANSFER_VARIABLES.items())
        + ". It must delete {source} only once the plot is complete at the other end (a plot "
        "whose source is gone counts as sent), and not write a partial file under the plot's "
        "name there. Required for script targets."
    ),
    (ArchiveTarget, "list_command"): (
        "Replotting only: prints the plots of {archive_dir}, one per line as SIZE NAME (bytes, "
        "then the file name; a third field, the mtime in POSIX seconds, is optional). Required "
        "for script targets with a replot table."
    ),
    (ArchiveTarget, "remove_command"): (
        "Replotting only: removes one old plot; "
        + "; ".join(f"{{{name}}} is {text}" for name, text in REMOVE_VARIABLES.items())
        + ". Exit status 0 means removed. Required for script targets with a replot table."
    ),
    (ArchiveTarget, "replot"): (
        "Replotting: when no archive dir of this target has room for the next plot, remove the "
        "fewest old plots (oldest first) from one dir to make room for exactly that plot. Only "
        "plots matching every rule given here may go, and never one this machine sent. Left out: "
        "nothing on the farmer is ever removed. Try the rules with `plotman-tui replot plan` and "
        "dry_run = true first."
    ),
    (ReplotRules, "older_than"): (
        "Only plots whose name's date is before this day (a TOML date, 2023-06-01)."
    ),
    (ReplotRules, "uncompressed"): "true: only plots whose name states no compression level.",
    (ReplotRules, "compression_below"): (
        "Only plots of a compression level below this (an uncompressed plot is level 0)."
    ),
    (ReplotRules, "k"): "Only plots of these k sizes.",
    (ReplotRules, "names"): (
        "Only plots whose file name matches one of these patterns (* and ? as in the shell)."
    ),
    (ReplotRules, "keep_free_gib"): (
        "Free space a dir keeps after the new plot lands, beyond free_space_margin_gib."
    ),
    (ReplotRules, "dry_run"): "Log what would be removed, and remove nothing.",
    (ReplotRules, "enabled"): "false: keep the rules (replot plan shows them) but remove nothing.",
    (ArchiveTarget, "free_space_command"): (
        "Prints the free space of {archive_dir} in bytes: the last whole number of its output "
        "counts (so df's header line does no harm). Required for script targets."
    ),
}

# Example values where the schema default is not what a farmer should see (or is None).
_EXAMPLES: Final[Mapping[tuple[type, str], object]] = {
    (LoggingConfig, "plots"): "~/plotman-tui/logs/plots",
    (LoggingConfig, "transfers"): "~/plotman-tui/logs/transfers",
    (LoggingConfig, "application"): "~/plotman-tui/logs/plotman-tui.log",
    (DirectoriesConfig, "tmp"): ["/mnt/tmp/00", "/mnt/tmp/01"],
    (DirectoriesConfig, "dst"): ["/mnt/dst/00", "/mnt/dst/01"],
    (DirectoriesConfig, "tmp2"): "/mnt/tmp2",
    (TmpOverride, "tmpdir_stagger_phase_major"): 1,
    (TmpOverride, "tmpdir_stagger_phase_minor"): 5,
    (TmpOverride, "tmpdir_stagger_phase_limit"): 2,
    (TmpOverride, "tmpdir_max_jobs"): 5,
    (PlottingConfig, "farmer_pk"): "<farmer public key>",
    (PlottingConfig, "pool_pk"): "<pool public key>",
    (PlottingConfig, "pool_contract_address"): "<xch1... pool contract address>",
    (MadmaxOptions, "port"): 8444,
    (BladebitOptions, "threads"): 8,
    (Bladebit2DiskOptions, "threads"): 8,
    (Bladebit2DiskOptions, "cache_size"): "32G",
    (Bladebit2DiskOptions, "f1_threads"): 8,
    (Bladebit2DiskOptions, "fp_threads"): 8,
    (Bladebit2DiskOptions, "c_threads"): 8,
    (Bladebit2DiskOptions, "p2_threads"): 8,
    (Bladebit2DiskOptions, "p3_threads"): 8,
    (BladebitCudaOptions, "threads"): 8,
    (GigahorseOptions, "device"): 0,
    (GigahorseOptions, "devices"): 1,
    (GigahorseOptions, "streams"): 4,
    (GigahorseOptions, "max_tmp_gib"): 128,
    (GigahorseOptions, "tmp3"): "/mnt/ram",
    (SchedulingConfig, "global_max_phase1"): 4,
    (SchedulingConfig, "tmp_min_free_gib"): 300,
    (MetricsConfig, "listen"): "127.0.0.1:9750",
}


def render_template(overrides: Mapping[str, object] | None = None) -> str:
    """The commented example config, with ``overrides`` written in.

    ``overrides`` maps dotted key paths of the template (``"directories.tmp"``,
    ``"plotting.chia.k"``) to values (paths may be ``Path`` objects). A key that is commented out in
    the template is written active when given; ``None`` writes it commented out. The per-tmp-dir
    example is named after the first tmp dir. Raises ValueError for a key the template does not
    have, and ConfigError if the result would not load.
    """
    given = dict(overrides or {})
    renderer = _Renderer(given)
    text = renderer.render()
    unknown = sorted(set(given) - renderer.used)
    if unknown:
        raise ValueError(f"not keys of the config template: {', '.join(unknown)}")
    parse_config(text, check_dirs=False)
    return text


def write_template(path: Path, *, force: bool) -> None:
    """Write the example config to ``path``, creating its directory.

    Refuses to replace an existing file unless ``force``; every failure is a ConfigError.
    """
    path = Path(path).expanduser()
    if path.exists() and not force:
        raise ConfigError("already exists; use --force to replace it", source=path)
    text = render_template()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a forced overwrite never leaves half a file.
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temp_name, path)
        except BaseException:
            os.unlink(temp_name)
            raise
    except OSError as error:
        raise ConfigError(f"cannot write: {error.strerror or error}", source=path) from None


# -- rendering -----------------------------------------------------------------------------------


def _toml_value(value: object) -> str:
    if isinstance(value, Path):
        value = str(value)
    elif isinstance(value, list | tuple):
        value = [str(item) if isinstance(item, Path) else item for item in value]
    elif isinstance(value, PlotterType):
        value = value.value
    import tomlkit  # only `config generate` needs it; status must start fast

    return str(tomlkit.item(value).as_string())


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, _WIDTH - 2, initial_indent="# ", subsequent_indent="# ")


def _default_text(field: dataclasses.Field[Any]) -> str:
    if field.default is None:
        return "Default: not set."
    if field.default is not dataclasses.MISSING:
        return f"Default: {_toml_value(field.default)}."
    if field.default_factory is not dataclasses.MISSING:
        return f"Default: {_toml_value(field.default_factory())}."
    return ""


class _Renderer:
    def __init__(self, overrides: dict[str, object]) -> None:
        self.overrides = overrides
        self.used: set[str] = set()
        self.lines: list[str] = []

    def _override(self, path: KeyPath) -> tuple[bool, object]:
        name = format_key_path(path)
        if name in self.overrides:
            self.used.add(name)
            return True, self.overrides[name]
        return False, None

    def render(self) -> str:
        self.lines = [*_comment_block(_INTRO), ""]
        for field in dataclasses.fields(Config):
            if field.name in ("source", "archiving", "fleet"):
                continue
            self._table(_FIELD_TYPES[(Config, field.name)], (field.name,))
        self._fleet(("fleet",))
        # Last: its long commented examples of targets end the file.
        self._archiving(("archiving",))
        return "\n".join(self.lines).rstrip("\n") + "\n"

    def _table(self, cls: type, path: KeyPath) -> None:
        self.lines += _comment(_SECTION_HELP[cls])
        self.lines.append(f"[{format_key_path(path)}]")
        subtables: list[tuple[type, KeyPath]] = []
        for field in dataclasses.fields(cls):
            field_type = _FIELD_TYPES[(cls, field.name)]
            if isinstance(field_type, type) and dataclasses.is_dataclass(field_type):
                subtables.append((field_type, (*path, field.name)))
            elif (cls, field.name) == (DirectoriesConfig, "tmp_overrides"):
                continue  # written after the plain keys, as tables
            else:
                self._key(cls, field, path)
        if cls is DirectoriesConfig:
            self._tmp_overrides(path)
        self.lines.append("")
        for sub_cls, sub_path in subtables:
            self._table(sub_cls, sub_path)

    def _key(self, cls: type, field: dataclasses.Field[Any], path: KeyPath) -> None:
        overridden, value = self._override((*path, field.name))
        # Optional keys without a default TOML could spell (None) are shown commented out: using
        # them is the farmer's choice (tmp2, the pool key or the contract, thread counts).
        commented = value is None if overridden else field.default is None
        if value is None:
            value = _EXAMPLES.get((cls, field.name), field.default)
        help_text = _HELP[(cls, field.name)]
        # Some help texts say themselves what leaving the key out does.
        if not is_required(cls, field) and "left out" not in help_text:
            help_text += " " + _default_text(field)
        self.lines += _comment(help_text)
        prefix = "# " if commented else ""
        self.lines.append(f"{prefix}{field.name} = {_toml_value(value)}")

    def _fleet(self, path: KeyPath) -> None:
        self.lines += _comment(_FLEET_HELP)
        self.lines.append(f"[{format_key_path(path)}]")
        self._key(FleetConfig, dataclasses.fields(FleetConfig)[0], path)
        self.lines.append("")
        self.lines += _comment(_HOSTS_HELP)
        self.lines.append(f"# [[{format_key_path((*path, 'hosts'))}]]")
        fields = {field.name: field for field in dataclasses.fields(FleetHost)}
        for name, value in _HOST_EXAMPLE.items():
            help_text = _HELP[(FleetHost, name)]
            if not any(word in help_text for word in ("left out", "Required")):
                help_text += " " + _default_text(fields[name])
            self.lines += _comment(help_text)
            self.lines.append(f"# {name} = {_toml_value(value)}")
        self.lines.append("")

    def _archiving(self, path: KeyPath) -> None:
        self.lines += _comment(_ARCHIVING_HELP)
        self.lines.append(f"[{format_key_path(path)}]")
        for field in dataclasses.fields(ArchivingConfig):
            if field.name != "targets":  # written below, as commented example tables
                self._key(ArchivingConfig, field, path)
        self.lines.append("")
        self.lines += _comment(_TARGETS_HELP)
        fields = {field.name: field for field in dataclasses.fields(ArchiveTarget)}
        explained: set[str] = set()
        header = f"# [[{format_key_path((*path, 'targets'))}]]"
        for intro, example in _TARGET_EXAMPLES:
            self.lines += ["#", *_comment(intro), header]
            for name, value in example.items():
                if isinstance(value, dict):
                    continue  # a sub-table: after the plain keys
                if name not in explained:
                    help_text = _HELP[(ArchiveTarget, name)]
                    field = fields[name]
                    # Some keys are required for some types only: their help says which.
                    if not any(word in help_text for word in ("left out", "Required")):
                        help_text += " " + _default_text(field)
                    self.lines += _comment(help_text)
                    explained.add(name)
                self.lines.append(f"# {name} = {_toml_value(value)}")
            for name, value in example.items():
                if isinstance(value, dict):
                    self._target_subtable(ArchiveTarget, name, value, (*path, "targets"))
        self.lines.append("")

    def _target_subtable(
        self, cls: type, name: str, keys: Mapping[str, object], path: KeyPath
    ) -> None:
        """A commented sub-table of a target example (``[archiving.targets.replot]``)."""
        self.lines += _comment(_HELP[(cls, name)])
        self.lines.append(f"# [{format_key_path((*path, name))}]")
        sub_cls = ReplotRules  # the one sub-table a target has
        fields = {field.name: field for field in dataclasses.fields(sub_cls)}
        for key, value in keys.items():
            help_text = _HELP[(sub_cls, key)]
            if "left out" not in help_text:
                help_text += " " + _default_text(fields[key])
            self.lines += _comment(help_text)
            self.lines.append(f"# {key} = {_toml_value(value)}")

    def _tmp_overrides(self, path: KeyPath) -> None:
        tmp_dirs = self.overrides.get(format_key_path((*path, "tmp")))
        if not isinstance(tmp_dirs, list | tuple) or not tmp_dirs:
            tmp_dirs = typing.cast(list[str], _EXAMPLES[(DirectoriesConfig, "tmp")])
        first = str(tmp_dirs[0])
        self.lines.append("")
        self.lines += _comment(_OVERRIDE_HELP)
        table = format_key_path((*path, "tmp_overrides", first))
        self.lines.append(f"# [{table}]")
        for field in dataclasses.fields(TmpOverride):
            help_text = _HELP[(TmpOverride, field.name)] + " Default: the scheduling table's value."
            self.lines += _comment(help_text)
            value = _EXAMPLES[(TmpOverride, field.name)]
            self.lines.append(f"# {field.name} = {_toml_value(value)}")


def _comment_block(text: str) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n\n"):
        if lines:
            lines.append("#")
        lines += _comment(" ".join(paragraph.split()))
    return lines


def _field_types() -> dict[tuple[type, str], Any]:
    types: dict[tuple[type, str], Any] = {}
    pending: list[type] = [Config]
    while pending:
        cls = pending.pop()
        for name, hint in typing.get_type_hints(cls).items():
            types[(cls, name)] = hint
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                pending.append(hint)
    return types


_FIELD_TYPES: Final = _field_types()
