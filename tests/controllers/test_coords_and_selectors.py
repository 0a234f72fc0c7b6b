import pytest

from controllers.actions import Frame, PointTarget, Selector, element, select
from controllers.coords import TargetError, pixels_to_point, point_to_pixels, resolve_target
from controllers.elements import ElementStates, Observation, Platform, Rect, Role, ScreenFrame, UIElement
from controllers.selectors import find, find_all


def _el(i, role, name, box, parent=None, **kw):
    return UIElement(id=i, role=role, name=name, bounds=Rect(left=box[0], top=box[1], right=box[2], bottom=box[3]),
                     parent=parent, **kw)


@pytest.fixture
def obs():
    elements = [
        _el(0, Role.container, "", (0, 0, 1080, 2400)),
        _el(1, Role.heading, "Profile", (0, 0, 1080, 100), parent=0),
        _el(2, Role.text, "Name", (0, 120, 300, 180), parent=0),
        _el(3, Role.text_field, "Name", (320, 120, 1000, 180), parent=0, value="김민준",
            states=ElementStates(editable=True)),
        _el(4, Role.text, "Phone", (0, 200, 300, 260), parent=0),
        _el(5, Role.text_field, "Phone", (320, 200, 1000, 260), parent=0, states=ElementStates(editable=True)),
        _el(6, Role.button, "Save", (700, 2200, 1000, 2300), parent=0),
        _el(7, Role.button, "Cancel", (100, 2200, 400, 2300), parent=0, states=ElementStates(enabled=False)),
        _el(8, Role.button, "Offscreen", (100, 2500, 400, 2600), parent=0),
        _el(9, Role.checkbox, "Agree", (0, 300, 300, 360), parent=0, states=ElementStates(checked=True)),
    ]
    for e in elements[1:]:
        elements[0].children.append(e.id)
    return Observation(platform=Platform.android, screen=ScreenFrame(width=1080, height=2400, scale_factor=3.0),
                       elements=elements, window_bounds=Rect(left=0, top=100, right=1080, bottom=2300))


def test_normalized_points_convert_once_with_the_frame(obs):
    assert point_to_pixels(PointTarget(x=0, y=0), obs).model_dump() == {"x": 0, "y": 0}
    assert point_to_pixels(PointTarget(x=1, y=1), obs).model_dump() == {"x": 1079, "y": 2399}
    p = point_to_pixels(PointTarget(x=0.5, y=0.0, frame=Frame.window), obs)
    assert (p.x, p.y) == (540, 100)
    back = pixels_to_point(540, 1200, obs)
    assert point_to_pixels(back, obs).model_dump() == {"x": 540, "y": 1200}


def test_window_points_outside_the_screen_are_refused(obs):
    obs.window_bounds = Rect(left=800, top=0, right=1880, bottom=1000)
    with pytest.raises(TargetError, match="outside"):
        point_to_pixels(PointTarget(x=0.9, y=0.5, frame=Frame.window), obs)


def test_window_frame_without_a_window_is_an_error(obs):
    obs.window_bounds = None
    with pytest.raises(TargetError, match="window"):
        point_to_pixels(PointTarget(x=0.5, y=0.5, frame=Frame.window), obs)


def test_element_targets_resolve_to_the_visible_centre(obs):
    p, e = resolve_target(element(6), obs)
    assert e.id == 6 and (p.x, p.y) == (850, 2250)
    with pytest.raises(TargetError, match="not in the current observation"):
        resolve_target(element(99), obs)
    with pytest.raises(TargetError, match="off screen"):
        resolve_target(element(8), obs)


def test_selectors_match_text_role_state_and_relations(obs):
    assert find(obs, Selector(text="Save")).id == 6
    assert find(obs, Selector(text_contains="SAV")).id == 6
    assert find(obs, Selector(text_regex=r"^Ph")).id == 4
    assert find(obs, Selector(text="김민준")).id == 3  # values match too
    assert [e.id for e in find_all(obs, Selector(role=Role.text_field))] == [3, 5]
    assert find(obs, Selector(role=Role.text_field, index=1)).id == 5
    assert find(obs, Selector(role=Role.text_field, right_of=Selector(text="Phone", role=Role.text))).id == 5
    assert find(obs, Selector(role=Role.text_field, below=Selector(text="Name", role=Role.text))).id == 5
    assert find(obs, Selector(role=Role.text, above=Selector(text="Phone", role=Role.text))).id == 2
    assert find(obs, Selector(role=Role.button, left_of=Selector(text="Save"))).id == 7
    assert find(obs, Selector(role=Role.button, enabled=False)).id == 7
    assert find(obs, Selector(checked=True)).id == 9
    assert find(obs, Selector(text="Save", child_of=Selector(role=Role.container))).id == 6
    assert find(obs, Selector(text="Nope")) is None
    assert find(obs, Selector(role=Role.text_field, index=5)) is None
    with pytest.raises(TargetError, match="no element matches"):
        resolve_target(select(text="Nope"), obs)


def test_unknown_roles_map_to_unknown():
    e = UIElement(id=0, role="android.widget.Weird", bounds=Rect(left=0, top=0, right=1, bottom=1))
    assert e.role == Role.unknown
    assert UIElement(id=0, role="BUTTON", bounds=Rect(left=0, top=0, right=1, bottom=1)).role == Role.button


def test_observation_round_trips_and_fingerprints(obs):
    again = Observation.model_validate_json(obs.model_dump_json())
    assert again.elements == obs.elements
    assert again.fingerprint() == obs.fingerprint()
    changed = obs.model_copy(deep=True)
    changed.elements[3] = changed.elements[3].model_copy(update={"value": "이서연"})
    assert changed.fingerprint() != obs.fingerprint()


def test_screenshot_is_lazy(obs):
    calls = []
    obs.attach_screenshot(lambda: calls.append(1) or "image")
    assert obs.has_screenshot and calls == []
    assert obs.screenshot() == "image" and obs.screenshot() == "image"
    assert calls == [1]


def test_screenshot_only_fingerprints_follow_the_pixels():
    from PIL import Image

    frame = ScreenFrame(width=100, height=200)
    a = Observation(platform=Platform.desktop, screen=frame).attach_screenshot(lambda: Image.new("RGB", (100, 200)))
    b = Observation(platform=Platform.desktop, screen=frame).attach_screenshot(lambda: Image.new("RGB", (100, 200)))
    c = Observation(platform=Platform.desktop, screen=frame).attach_screenshot(
        lambda: Image.new("RGB", (100, 200), (255, 255, 255)))
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
