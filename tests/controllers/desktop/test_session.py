"""The virtual desktop comes up whole and leaves nothing behind; attaching and launching fail clearly."""
import os
import subprocess

import pytest

from controllers.base import DeviceLost
from controllers.desktop.session import DesktopSession, SessionError, processes_with_token
from controllers.desktop.windows import WindowManager


def test_virtual_desktop_starts_every_part_and_stops_every_process_it_started():
    session = DesktopSession.start_virtual(width=1024, height=700)
    try:
        assert session.display.startswith(":")
        with WindowManager(session.display) as wm:
            assert wm.screen_size() == (1024, 700)
            assert wm.has_window_manager()  # openbox took the display
        assert session.a11y_address and session.a11y_address.startswith("unix:")
        assert session.screen().width == 1024
        # GTK and Chromium both start helpers of their own; every one carries the session's token
        session.launch(["gtk3-widget-factory"])
        profile = session.workdir / "chromium-profile"
        from controllers.desktop.apps import chromium_argv

        session.launch(chromium_argv("about:blank", str(profile), width=800, height=600), timeout=60)
        running = processes_with_token(session.token)
        assert len(running) >= 6  # Xvfb, bus, a11y launcher + its bus + registry, openbox, apps
        workdir = session.workdir
    finally:
        session.close()
    assert processes_with_token(session.token) == []
    assert not workdir.exists()
    with pytest.raises(DeviceLost):
        WindowManager(session.display)
    session.close()  # idempotent


def test_attach_without_a_display_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(SessionError, match="--virtual"):
        DesktopSession.attach()


def test_attach_to_a_dead_display_is_a_lost_device():
    with pytest.raises(DeviceLost, match="cannot reach X display"):
        DesktopSession.attach(":987")


def test_attach_uses_an_existing_display_and_stops_only_what_it_launched(desktop):
    attached = DesktopSession.attach(desktop.display)
    app = attached.launch(["xterm", "-T", "attached"])
    assert app.window is not None
    attached.close()
    assert app.process.poll() is not None  # the app it launched is gone
    assert desktop.alive()  # the display it attached to is not


def test_launch_failures_are_clear(desktop):
    with pytest.raises(SessionError, match="no such program"):
        desktop.launch("no-such-program-handa --flag")
    with pytest.raises(SessionError, match="exited with status 3 before showing a window"):
        desktop.launch(["sh", "-c", "exit 3"])
    with pytest.raises(SessionError, match="empty command"):
        desktop.launch("   ")


def test_launch_splits_like_a_shell_but_never_runs_one(desktop, tmp_path):
    marker = tmp_path / "pwned"
    # the ; and $(...) are arguments to xterm's title, not shell syntax
    app = desktop.launch(f"xterm -T 'a; touch {marker}' -e true", wait_window=False)
    app.process.wait(10)
    assert not marker.exists()


def test_windows_are_listed_focused_and_raised(desktop):
    first = desktop.launch(["xterm", "-T", "first window"])
    second = desktop.launch(["xterm", "-T", "second window"])
    with WindowManager(desktop.display) as wm:
        titles = {w.title: w for w in wm.windows()}
        assert {"first window", "second window"} <= set(titles)
        assert titles["first window"].pid == first.pid
        assert wm.focus(first.window)
        stack = wm.windows()
        assert stack[-1].id == first.window and stack[-1].active  # raised to the top and active
        assert wm.focus(second.window)
        assert wm.active_id() == second.window
        b = titles["second window"].bounds
        assert b.width > 50 and b.height > 50
        assert 0 <= b.left < 1280 and 0 <= b.top < 800
    for app in (first, second):
        app.process.terminate()


def test_compound_text_titles_decode_like_the_client_meant():
    from controllers.desktop.windows import decode_compound_text

    assert decode_compound_text(b"hello \x1b$(C<<0h") == "hello 세계"  # xterm's Korean title
    assert decode_compound_text(b"caf\xe9") == "café"
    assert decode_compound_text(b"a\x1b%G" + "é한".encode() + b"\x1b%@b") == "aé한b"
    assert decode_compound_text(b"\x1b$)C\xc7\xd1") == "한"
    assert decode_compound_text(b"x\x1b$(Zab") == "x\ufffd\ufffd"  # an unknown set is replaced, never an error
