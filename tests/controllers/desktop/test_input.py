"""Keyboard and mouse on a real X server: what arrives is what was meant (`<` stays `<`, Korean survives)."""
import pytest

from controllers.actions import Key, TypeText
from controllers.desktop.controller import DesktopController
from controllers.desktop.input import XInput, chord, keysym
from tests.controllers.desktop.conftest import wait_until, xterm_capture


def test_keysyms_cover_named_keys_modifiers_and_any_character():
    assert keysym("enter") == "Return" and keysym("page_down") == "Next" and keysym("meta") == "Super_L"
    assert keysym("a") == "a" and keysym("7") == "7"
    assert keysym("<") == "U003C"  # pyautogui would press the key that gives ">" here
    assert keysym("한") == "UD55C"
    assert chord(["ctrl", "shift", "t"]) == "Control_L+Shift_L+t"
    with pytest.raises(ValueError):
        keysym("not-a-key")


def _read(path):
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_typed_text_arrives_exactly_with_symbols_and_korean(desktop, tmp_path):
    out = tmp_path / "typed.txt"
    app = xterm_capture(desktop, out)
    inp = XInput(desktop.display, desktop.env)
    text = "a<b> & \"q\" 'x' ~`|\\ 한국어 입력 테스트 ü € 日本"
    inp.type_text(text)
    inp.press(["enter"])
    assert wait_until(lambda: _read(out).endswith("\n")), "nothing arrived"
    assert _read(out) == text + "\n"
    app.process.terminate()


def test_controller_types_submits_and_presses_chords(desktop, tmp_path):
    out = tmp_path / "typed.txt"
    app = xterm_capture(desktop, out)
    with DesktopController(desktop) as ctl:
        ctl.observe()
        result = ctl.execute(TypeText(text="서울역 <3", submit=True))
        assert result.ok, result.error
        assert wait_until(lambda: _read(out) == "서울역 <3\n")
        ctl.observe()
        assert ctl.execute(Key(keys=["ctrl", "d"])).ok  # end of input: cat exits, and so does the xterm
        assert wait_until(lambda: app.process.poll() is not None, timeout=10)


def test_every_named_key_can_be_pressed(desktop):
    from controllers.actions import NAMED_KEYS, MODIFIER_KEYS

    inp = XInput(desktop.display, desktop.env)
    try:
        for key in sorted(NAMED_KEYS | MODIFIER_KEYS):
            if key in ("power",):  # harmless under Xvfb, but keep the list honest: it must still resolve
                keysym(key)
                continue
            inp.press([key])  # raises for a keysym the display cannot produce
    finally:
        inp.close()
