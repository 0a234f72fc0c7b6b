"""A real virtual desktop (Xvfb, openbox, private D-Bus, AT-SPI) for the desktop controller's tests."""
import os
import time

import pytest

from controllers.desktop.session import DesktopSession


@pytest.fixture(scope="module")
def desktop():
    session = DesktopSession.start_virtual(width=1280, height=800)
    try:
        yield session
    finally:
        session.close()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; return that, or the last value at the deadline."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def xterm_capture(session, path, title="capture"):
    """An xterm whose shell copies every typed line into ``path`` (what arrived, byte for byte)."""
    if os.path.exists(path):
        os.remove(path)
    return session.launch(["xterm", "-u8", "-T", title, "-e", "sh", "-c", f"stty -echoctl; cat > '{path}'"],
                          extra_env={"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
