"""The footer and the kill question as a farmer sees them: which keys are on the bottom line, and
what covers the question's buttons. The dashboard is fed by hand (no workers, no signal sent to
any process: the kill plans here are never held, so an answer does nothing to a pid)."""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import Button
from textual.widgets._footer import FooterKey
from textual.widgets._toast import Toast

from plotman_tui.farm.control import KillPlan
from plotman_tui.tui.app import DashboardApp
from plotman_tui.tui.messages import JobControlDone, KillPrepared, WorkFailed
from plotman_tui.tui.screens.kill_screen import KillScreen
from tests.tui.farmdata import archive_app, archive_feed, farm_jobs, feed, still_app
from tests.tui.pilots import until


def footer_line(app: DashboardApp) -> list[str]:
    """The keys on the screen's bottom line, left to right, each as ``key description``; a key
    cut by the edge of the screen or by another key fails the test."""
    width, height = app.screen.size
    keys: list[FooterKey] = []
    for x in range(width):
        widget, _region = app.screen.get_widget_at(x, height - 1)
        if isinstance(widget, FooterKey) and widget not in keys:
            keys.append(widget)
    shown = []
    for key in keys:
        text = f"{key.key_display} {key.description}"
        region = key.region
        assert region.width == len(text) and region.right <= width, f"{text!r} is cut"
        cells = {app.screen.get_widget_at(x, height - 1)[0] for x in range(region.x, region.right)}
        assert cells == {key}, f"{text!r} is covered"
        shown.append(text)
    return shown


def on_top_everywhere(app: DashboardApp, widget: Widget) -> bool:
    """Whether every cell of ``widget`` shows the widget (or its own content), nothing over it."""
    region = widget.region
    assert region.area > 0
    for y in range(region.y, region.bottom):
        for x in range(region.x, region.right):
            top, _ = app.screen.get_widget_at(x, y)
            if top is not widget and widget not in top.ancestors:
                return False
    return True


def toast_titles(app: DashboardApp) -> list[str]:
    return [str(toast.render()).split("\n")[0] for toast in app.screen.query(Toast)]


def kill_plan() -> KillPlan:
    """A plan for the table's second job, as if it had been stopped (it never was)."""
    return KillPlan(
        job=farm_jobs()[1], files=(), total_bytes=0, stopped=True, message="pid 4102 stopped"
    )


async def test_at_80_columns_the_footer_has_help_and_p_says_what_it_will_do() -> None:
    app = still_app()
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app)
        await pilot.pause()
        keys = footer_line(app)
        assert keys[-1] == "? Help"  # pinned: help lists the keys left out
        assert "p Pause plotting" in keys and "k Kill" in keys
        assert len(keys) < 12  # some keys do not fit: they are left out whole
        await pilot.press("p")
        await pilot.pause()
        assert not app.plotting.enabled
        keys = footer_line(app)
        assert "p Resume plotting" in keys and "p Pause plotting" not in keys
        assert keys[-1] == "? Help"
        await pilot.press("p")
        await pilot.pause()
        assert app.plotting.enabled
        assert "p Pause plotting" in footer_line(app)


async def test_the_footer_leaves_out_whole_keys_from_its_end_and_a_says_what_it_will_do() -> None:
    app = archive_app(archiving_enabled=True)
    async with app.run_test(size=(200, 60)) as pilot:
        archive_feed(app)
        await pilot.pause()
        every = ["⏎", "p", "s", "r", "k", "l", "/", "d", "h", "a", "o", "q", "O", "?"]
        assert [key.split()[0] for key in footer_line(app)] == every
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: app.screen.size == (120, 40), 5, "120x40")
        await pilot.pause()
        keys = footer_line(app)
        at_120 = [k for k in every if k not in ("q", "O")]  # the last keys, whole
        assert [key.split()[0] for key in keys] == at_120
        assert "a Pause archiving" in keys
        await pilot.press("a")
        await pilot.pause()
        assert not app.archiving_enabled
        assert "a Resume archiving" in footer_line(app)
        await pilot.press("p")  # both paused: the longest labels
        await pilot.pause()
        assert [key.split()[0] for key in footer_line(app)] == at_120
        await pilot.resize_terminal(135, 40)
        await until(pilot, lambda: app.screen.size == (135, 40), 5, "135x40")
        await pilot.pause()
        assert [key.split()[0] for key in footer_line(app)] == every
    app = still_app()  # archiving not set up: the key says how, and is still in the footer
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        feed(app)
        await pilot.pause()
        assert "a Archiving" in footer_line(app)
        await pilot.press("a")
        await until(pilot, lambda: "archiving" in toast_titles(app), 5, "the notice")
        (notice,) = [toast.render().plain for toast in app.screen.query(Toast)]
        assert "set [archiving] enabled = true" in notice  # the config's words, not markup


async def test_the_kill_question_shows_its_own_keys_and_nothing_covers_its_buttons() -> None:
    app = still_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        feed(app)
        await pilot.pause()
        # Notices of earlier keys, still on screen when the question opens.
        await pilot.press("p", "p", "p")
        await until(pilot, lambda: len(app.screen.query(Toast)) == 3, 5, "three notices")
        app.post_message(KillPrepared(plan=kill_plan()))
        await until(pilot, lambda: isinstance(app.screen, KillScreen), 5, "the question")
        await pilot.pause()
        # And one that comes while it is open.
        app.post_message(WorkFailed("dirs", "cannot read /mnt/farm/dst/1: input/output error"))
        await pilot.pause()
        for button in app.screen.query(Button):
            assert on_top_everywhere(app, button), f"{button.label} is covered"
        assert footer_line(app) == ["y Kill, delete files", "n Cancel, let it run"]
        # The safe answer has the focus: a stray enter lets the job run on.
        assert app.focused is not None and app.focused.id == "kill-no"
        await pilot.press("n")
        await until(pilot, lambda: app.screen is app.dashboard, 5, "the dashboard")
        # The notices still in time show again on the dashboard.
        await until(pilot, lambda: "free space" in toast_titles(app), 5, "the notice again")
        assert "p Resume plotting" in footer_line(app)


async def test_notices_are_titled_in_a_farmers_words() -> None:
    app = still_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        feed(app)
        await pilot.pause()
        # A kill question answered no: the app lets the job go (the plan is held by nobody
        # here, so the outcome is "over already", as when it ended meanwhile).
        app._pending_kill = kill_plan()
        app.post_message(KillPrepared(plan=app._pending_kill))
        await until(pilot, lambda: isinstance(app.screen, KillScreen), 5, "the question")
        await pilot.press("n")
        await until(pilot, lambda: "kill cancelled" in toast_titles(app), 5, "the cancel notice")
        for action in ("suspend", "resume", "kill", "pause", "unpause"):
            app.post_message(JobControlDone(action=action, ok=False, message=f"{action} failed"))
        for group in ("engine", "archiving", "dirs", "action-log", "log-watch"):
            app.post_message(WorkFailed(group, f"{group} broke"))
        await pilot.pause()
        titles = set(toast_titles(app))
        assert titles >= {"suspend", "resume", "kill", "pause", "kill cancelled"}
        assert titles >= {"plotting", "archiving", "free space", "action log", "watching the logs"}
        assert not titles & {"cancel-kill", "unpause", "engine", "dirs", "action-log", "log-watch"}
        for toast in app.screen.query(Toast):
            assert not str(toast.render()).startswith(("engine:", "dirs:", "action-log:"))


async def test_a_notice_shows_paths_and_log_text_as_they_are() -> None:
    """Brackets in a path are text, not markup (a closing tag of nothing stopped the app), and
    control characters show as pictures."""
    app = still_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        feed(app)
        await pilot.pause()
        app.post_message(
            JobControlDone(
                action="kill",
                ok=False,
                message="cannot delete /mnt/tmp[/b]/plot.tmp: permission denied",
            )
        )
        app.post_message(WorkFailed("dirs", "cannot read /mnt/[bold]dst[/bold]\x1b[2J: gone"))
        await until(pilot, lambda: len(app.screen.query(Toast)) == 2, 5, "both notices")
        shown = [toast.render().plain for toast in app.screen.query(Toast)]
        assert app.is_running
    assert shown == [
        "kill\ncannot delete /mnt/tmp[/b]/plot.tmp: permission denied",
        "free space\ncannot read /mnt/[bold]dst[/bold]␛[2J: gone",
    ]
