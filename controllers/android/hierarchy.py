"""Parse a uiautomator ``dumpWindowHierarchy`` XML dump into Handa's contract elements.

The dump (uiautomator2's device server, Android's ``AccessibilityNodeInfoDumper``) is
``<hierarchy rotation="N">`` holding one ``<node>`` per window root (the app, the status bar, the navigation
bar, the keyboard, dialogs; in no defined order), each with nested ``<node>``s carrying ``index``, ``text``,
``resource-id``, ``class``, ``package``, ``content-desc``, the boolean states, ``bounds="[l,t][r,b]"``
(physical pixels, clipped to the screen by the device), and on newer API levels ``drawing-order`` (24+),
``hint`` (26+) and ``display-id`` (30+); ``NAF="true"`` marks clickable nodes with no label. Old API levels
leave attributes out (no ``resource-id`` before 18): every attribute is optional here.

What becomes an element.

- Every attribute of a node is kept, unchanged, in ``attrs`` (keys exactly as in the XML, unknown ones such as
  the sim's ``sim-key`` included). The one exception: a password node's ``text`` is masked there as well.
- Pruned with its whole subtree: a node with ``visible-to-user="false"``, a node of zero area (the device
  clips bounds to what shows, so nothing inside it shows either), a node lying wholly outside ``screen``
  (when a screen is given), and a node without parsable ``bounds``.
- Collapsed (not emitted; its children re-parented to the nearest emitted ancestor): bare layout, i.e. a
  container-like node (a layout class, a generic ``View``, an empty ``TextView``) with no text, description,
  resource id, and neither clickable, long-clickable, checkable nor scrollable. Window roots are never
  collapsed.
- Each window root becomes a root element whose role says what the window is (``window`` for apps, status and
  navigation bars; ``dialog``; ``keyboard``) with ``attrs["window-type"]`` one of ``app``, ``dialog``,
  ``keyboard``, ``status_bar``, ``navigation_bar``, ``system``. Every element's ``window`` is its window
  root's package and ``app`` its own node's package.

Roles come from the class's last dotted (and ``$``) part, so ``android.widget.Button``,
``androidx.appcompat.widget.AppCompatButton`` and ``com.google.android.material.button.MaterialButton`` agree:
buttons, text fields (``EditText``, ``AutoCompleteTextView``: editable), check boxes (``CheckBox``,
``CheckedTextView``), switches (``Switch``, ``SwitchCompat``, ``SwitchMaterial``, ``ToggleButton``), radios,
sliders (``SeekBar``, ``RatingBar``, ``Slider``), dropdowns (``Spinner``, whose value is its first text), images
(a clickable ``ImageView`` is a button), text (a clickable ``TextView`` is a button), lists (``RecyclerView``,
``ListView``, ``GridView``, ``ScrollView``; their direct container children are ``list_item``), tabs
(``TabView``, children of a ``TabWidget``), progress bars, web views, toolbars, menu items and layout
containers (a checkable one is a check box). Anything else is a check box if checkable, a button if clickable,
a list if scrollable, text if it has text, else ``unknown``.

Names and values. ``name`` is the text, else the content description; ``description`` is the content
description. Text fields and sliders keep their text as ``value`` (a text field's name is its content
description): a password field's value is masked as ``•`` per character, and a field whose text equals its
hint while it is not focused (old API levels report the hint as the text of an empty field) has an empty value.

Speed: one expat pass; elements are built the way ``model_construct`` builds them, without its overhead (the
values are valid by construction; the tests check they equal validated models), and equal state sets share
one frozen ``ElementStates``. A 1,000-node dump parses in ~9 ms (p50) on a busy 2-core machine, about half of
it expat's own tokenizing (``benchmarks/android_bench.py``).
"""
from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Optional
from xml.parsers import expat

from controllers.base import ControllerError
from controllers.elements import ElementStates, Rect, Role, UIElement

MASK = "\u2022"

# the packages whose windows are system bars and shades (the sim phone's own system package among them)
SYSTEM_UI_PACKAGES = frozenset({"com.android.systemui", "com.handa.system"})
IME_PACKAGE_PREFIXES = ("com.android.inputmethod", "com.google.android.inputmethod",
                        "com.google.android.apps.inputmethod", "com.samsung.android.honeyboard",
                        "com.sec.android.inputmethod", "com.touchtype.swiftkey", "com.github.uiautomator")


class HierarchyError(ControllerError):
    """The dump is not a uiautomator hierarchy (empty, malformed XML, or another document)."""


@dataclass
class AndroidWindow:
    """One window root of the dump."""

    index: int                   # position among the dump's window roots
    package: str
    kind: str                    # app, dialog, keyboard, status_bar, navigation_bar, system
    bounds: Optional[Rect]       # None when the root was pruned (invisible, zero area, off screen)
    element: Optional[int]       # the root element's id; None when pruned


@dataclass
class ParsedTree:
    elements: list[UIElement]
    windows: list[AndroidWindow]
    foreground: str              # the foreground app's package ("" when the dump shows no app window)
    rotation: int = 0
    warnings: list[str] = field(default_factory=list)
    node_count: int = 0          # <node>s in the dump, pruned and collapsed ones included

    @property
    def packages(self) -> list[str]:
        """The package of each window root, in dump order."""
        return [w.package for w in self.windows]

    @property
    def foreground_window(self) -> Optional[AndroidWindow]:
        for kind in ("dialog", "app"):
            for w in reversed(self.windows):
                if w.kind == kind and w.package == self.foreground and w.bounds is not None:
                    return w
        return None


# ---------------------------------------------------------------- roles

_EXACT = {
    "Button": Role.button, "ImageButton": Role.button, "Chip": Role.button,
    "EditText": Role.text_field, "AutoCompleteTextView": Role.text_field,
    "MultiAutoCompleteTextView": Role.text_field, "SearchAutoComplete": Role.text_field,
    "CheckBox": Role.checkbox, "CheckedTextView": Role.checkbox,
    "Switch": Role.switch, "SwitchCompat": Role.switch, "SwitchMaterial": Role.switch,
    "MaterialSwitch": Role.switch, "ToggleButton": Role.switch,
    "RadioButton": Role.radio,
    "SeekBar": Role.slider, "RatingBar": Role.slider, "Slider": Role.slider, "RangeSlider": Role.slider,
    "Spinner": Role.dropdown,
    "ImageView": Role.image,
    "TextView": Role.text,
    "RecyclerView": Role.list, "ListView": Role.list, "GridView": Role.list, "ScrollView": Role.list,
    "ExpandableListView": Role.list, "HorizontalScrollView": Role.list, "NestedScrollView": Role.list,
    "AbsListView": Role.list,
    "TabView": Role.tab,
    "ProgressBar": Role.progress, "LinearProgressIndicator": Role.progress,
    "CircularProgressIndicator": Role.progress,
    "WebView": Role.web_view,
    "Toolbar": Role.toolbar, "ActionBar": Role.toolbar,
    "ActionMenuItemView": Role.menu_item, "ListMenuItemView": Role.menu_item,
    "FrameLayout": Role.container, "LinearLayout": Role.container, "RelativeLayout": Role.container,
    "ConstraintLayout": Role.container, "ViewGroup": Role.container, "TabWidget": Role.container,
    "CardView": Role.container, "ViewPager": Role.container, "ViewPager2": Role.container,
    "View": Role.unknown,
}
# (suffix, role), most specific first
_SUFFIXES = (
    ("RadioButton", Role.radio), ("ToggleButton", Role.switch), ("Button", Role.button),
    ("EditText", Role.text_field), ("AutoCompleteTextView", Role.text_field),
    ("CheckBox", Role.checkbox), ("CheckedTextView", Role.checkbox),
    ("Switch", Role.switch), ("SwitchCompat", Role.switch), ("SwitchMaterial", Role.switch),
    ("SeekBar", Role.slider), ("RatingBar", Role.slider), ("Slider", Role.slider),
    ("Spinner", Role.dropdown),
    ("ImageView", Role.image),
    ("TextView", Role.text),
    ("RecyclerView", Role.list), ("ListView", Role.list), ("GridView", Role.list), ("ScrollView", Role.list),
    ("TabView", Role.tab),
    ("ProgressBar", Role.progress), ("ProgressIndicator", Role.progress),
    ("WebView", Role.web_view),
    ("Toolbar", Role.toolbar), ("ActionBar", Role.toolbar),
    ("MenuItemView", Role.menu_item),
    ("Layout", Role.container), ("ViewGroup", Role.container), ("CardView", Role.container),
    ("ViewPager", Role.container), ("DecorView", Role.container), ("TableRow", Role.container),
    ("ViewFlipper", Role.container), ("ViewSwitcher", Role.container), ("ViewAnimator", Role.container),
)
_CLASS_ROLES: dict[str, Role] = {}


def class_role(cls: str) -> Role:
    """The role a widget class implies by itself (before the node's states are looked at)."""
    role = _CLASS_ROLES.get(cls)
    if role is not None:
        return role
    last = cls.rsplit(".", 1)[-1]
    inner = last.rsplit("$", 1)[-1]
    role = _EXACT.get(inner) or _EXACT.get(last)
    if role is None:
        role = next((r for suffix, r in _SUFFIXES if inner.endswith(suffix)), Role.unknown)
    if len(_CLASS_ROLES) < 4096:
        _CLASS_ROLES[cls] = role
    return role


_CHECK_ROLES = frozenset({Role.checkbox, Role.switch, Role.radio})
_VALUE_ROLES = frozenset({Role.text_field, Role.slider, Role.progress})
_BARE_ROLES = frozenset({Role.container, Role.unknown})
_ROW_ROLES = frozenset({Role.container, Role.unknown})
_TAB_ROLES = frozenset({Role.container, Role.unknown, Role.text, Role.button})
_IN_LIST, _IN_TABS = 1, 2


def node_role(base: Role, clickable: bool, checkable: bool, scrollable: bool, has_text: bool) -> Role:
    """The role of one node from its class's role and its own states."""
    if base is Role.unknown:
        if checkable:
            return Role.checkbox
        if clickable:
            return Role.button
        if scrollable:
            return Role.list
        return Role.text if has_text else Role.unknown
    if clickable and base in (Role.text, Role.image):
        return Role.button
    if checkable and base is Role.container:
        return Role.checkbox  # a checkable row (CheckableLinearLayout, ...): its checked state is what matters
    return base


# ---------------------------------------------------------------- windows


def is_keyboard_package(package: str) -> bool:
    return package.startswith(IME_PACKAGE_PREFIXES) or "inputmethod" in package


def _classify(windows: list[AndroidWindow], screen: Optional[Rect]) -> None:
    """Set each window's kind from its package and geometry."""
    height = screen.height if screen is not None else max((w.bounds.bottom for w in windows if w.bounds), default=0)
    width = screen.width if screen is not None else max((w.bounds.right for w in windows if w.bounds), default=0)
    apps = []
    for w in windows:
        b = w.bounds
        if is_keyboard_package(w.package):
            w.kind = "keyboard"
        elif w.package in SYSTEM_UI_PACKAGES or w.package.endswith(".systemui"):
            w.kind = "system"
            if b is not None and height and b.height <= 0.15 * height and b.width >= 0.5 * width:
                if b.top <= 0:
                    w.kind = "status_bar"
                elif b.bottom >= height:
                    w.kind = "navigation_bar"
            elif b is not None and width and b.width <= 0.15 * width and b.height >= 0.5 * height \
                    and (b.right >= width or b.left <= 0):
                w.kind = "navigation_bar"  # landscape: the bar stands on a side
        else:
            w.kind = "app"
            if b is not None:
                apps.append(w)
    if len(apps) > 1:
        biggest = max(b.bounds.area for b in apps)
        for w in apps:
            if w.bounds.area < biggest:
                w.kind = "dialog"


def _foreground(windows: list[AndroidWindow]) -> str:
    for kind in ("dialog", "app"):
        shown = [w for w in windows if w.kind == kind and w.bounds is not None]
        if shown:
            return (min(shown, key=lambda w: w.bounds.area) if kind == "dialog" else shown[0]).package
    return ""


_WINDOW_ROLES = {"app": Role.window, "dialog": Role.dialog, "keyboard": Role.keyboard}


# ---------------------------------------------------------------- the parser

_new = object.__new__
_set = object.__setattr__
_ELEMENT_FIELDS = set(UIElement.model_fields)  # shared by every element built here: all fields are set
_RECT_FIELDS = set(Rect.model_fields)


def parse_hierarchy(xml: str | bytes, screen: Optional[Rect] = None) -> ParsedTree:
    """Parse one dump. ``screen`` (physical pixels) enables the off-screen pruning.

    Raises ``HierarchyError`` for an empty or malformed dump; a well-formed dump with no windows gives no
    elements and a warning.
    """
    if xml is None or (isinstance(xml, (str, bytes)) and not xml.strip()):
        raise HierarchyError("the hierarchy dump is empty")
    elements: list[UIElement] = []
    windows: list[AndroidWindow] = []
    warnings: list[str] = []
    states_cache: dict[tuple, ElementStates] = {}
    # per open element: (nearest emitted element id or -1, what its children are (_IN_LIST, _IN_TABS or 0),
    # window index, id of a dropdown still waiting for its value or -1)
    stack: list[tuple[int, int, int, int]] = []
    push = stack.append
    skip = 0            # depth inside a pruned subtree
    nodes = no_bounds = other_tags = 0
    root_tag: list[str] = []
    if screen is not None:
        sl, st, sr, sb = screen.left, screen.top, screen.right, screen.bottom
    else:
        sl = st = -(1 << 62)
        sr = sb = 1 << 62
    rotation = 0
    new, setattr_ = _new, _set
    rect_fields, element_fields = _RECT_FIELDS, _ELEMENT_FIELDS
    bare_roles, row_roles, tab_roles, value_roles, check_roles = _BARE_ROLES, _ROW_ROLES, _TAB_ROLES, \
        _VALUE_ROLES, _CHECK_ROLES
    TEXT, TEXT_FIELD, LIST, DROPDOWN = Role.text, Role.text_field, Role.list, Role.dropdown

    def start(tag: str, a: dict) -> None:
        nonlocal skip, nodes, no_bounds, other_tags, rotation
        if skip:
            skip += 1
            nodes += tag == "node"
            return
        if tag != "node":
            if not root_tag:
                root_tag.append(tag)
                if tag == "hierarchy":
                    try:
                        rotation = int(a.get("rotation", "0"))
                    except ValueError:
                        rotation = 0
                return
            other_tags += 1
            skip = 1
            return
        if not root_tag:
            root_tag.append(tag)
        nodes += 1
        if stack:
            top_level = False
            parent_eid, context, win, spinner = stack[-1]
        else:
            top_level = True
            parent_eid, context, spinner = -1, 0, -1
            win = len(windows)
            windows.append(AndroidWindow(index=win, package=a.get("package", ""), kind="app", bounds=None,
                                         element=None))
        try:
            l, t, r, b = a["bounds"][1:-1].replace("][", ",").split(",")
            l, t, r, b = int(l), int(t), int(r), int(b)
        except (KeyError, ValueError):
            no_bounds += 1
            skip = 1
            return
        if r <= l or b <= t or r <= sl or b <= st or l >= sr or t >= sb or a.get("visible-to-user") == "false":
            skip = 1
            return
        get = a.get
        text = get("text", "")
        desc = get("content-desc", "")
        clickable = get("clickable") == "true"
        checkable = get("checkable") == "true"
        scrollable = get("scrollable") == "true"
        cls = get("class", "")
        base = _CLASS_ROLES.get(cls) or class_role(cls)
        role = node_role(base, clickable, checkable, scrollable, bool(text))
        if not (top_level or text or desc or clickable or checkable or scrollable or get("resource-id")
                or get("long-clickable") == "true") and (role in bare_roles or role is TEXT):
            # collapsed: its children go to its parent (a bare TabWidget still makes them tabs)
            push((parent_eid, _IN_TABS if cls.endswith("TabWidget") else context, win, spinner))
            return
        if context:
            if context == _IN_LIST and role in row_roles:
                role = Role.list_item
            elif context == _IN_TABS and role in tab_roles:
                role = Role.tab
        focused = get("focused") == "true"
        password = get("password") == "true"
        hint = get("hint", "")
        name, value = text or desc, ""
        if role in value_roles:
            name, value = desc, text
            if role is TEXT_FIELD and text and text == hint and not focused:
                value = ""
            elif role is not TEXT_FIELD and value.endswith(".0") and value[:-2].lstrip("-").isdigit():
                value = value[:-2]  # a SeekBar reports its progress as a float ("50.0"): the contract says "50"
        if password and text:
            value = MASK * len(value)
            if name == text:
                name = desc
            a["text"] = MASK * len(text)
        checked = (get("checked") == "true") if (checkable or role in check_roles) else None
        key = (get("enabled") != "false", focused, get("selected") == "true", checked, clickable,
               role is TEXT_FIELD, scrollable, password)
        states = states_cache.get(key)
        if states is None:
            states = states_cache[key] = ElementStates(
                enabled=key[0], visible=True, focused=focused, selected=key[2], checked=checked,
                clickable=clickable, editable=key[5], scrollable=scrollable, password=password)
        eid = len(elements)
        # what ``model_construct`` does for a complete set of valid fields, at a fifth of its cost; every field
        # is set, so the fields-set can be shared (pydantic only ever adds names to it)
        rect = new(Rect)
        setattr_(rect, "__dict__", {"left": l, "top": t, "right": r, "bottom": b})
        setattr_(rect, "__pydantic_fields_set__", rect_fields)
        setattr_(rect, "__pydantic_extra__", None)
        setattr_(rect, "__pydantic_private__", None)
        element = new(UIElement)
        setattr_(element, "__dict__", {
            "id": eid, "role": role, "name": name, "description": desc, "value": value, "hint": hint,
            "bounds": rect, "states": states, "parent": parent_eid if parent_eid >= 0 else None, "children": [],
            "app": get("package", ""), "window": windows[win].package, "attrs": a})
        setattr_(element, "__pydantic_fields_set__", element_fields)
        setattr_(element, "__pydantic_extra__", None)
        setattr_(element, "__pydantic_private__", None)
        elements.append(element)
        if top_level:
            windows[win].bounds = rect
            windows[win].element = eid
        else:
            elements[parent_eid].children.append(eid)
            if spinner >= 0 and text:
                if not elements[spinner].value:
                    elements[spinner].value = text
                spinner = -1
        if role is DROPDOWN and not value:
            spinner = eid
        push((eid, _IN_LIST if role is LIST else _IN_TABS if cls.endswith("TabWidget") else 0, win, spinner))

    def end(tag: str) -> None:
        nonlocal skip
        if skip:
            skip -= 1
            return
        if stack and tag == "node":
            stack.pop()

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    collecting = gc.isenabled()
    gc.disable()  # thousands of new containers: generation-0 collections would cost a third of the time
    try:
        parser.Parse(xml, True)
    except expat.ExpatError as exc:
        raise HierarchyError(f"malformed hierarchy XML: {expat.ErrorString(exc.code)} at line {exc.lineno}, "
                             f"column {exc.offset}") from None
    finally:
        if collecting:
            gc.enable()
    if root_tag and root_tag[0] != "hierarchy":
        raise HierarchyError(f"not a uiautomator hierarchy dump: the document is <{root_tag[0]}>, not <hierarchy>")

    _classify(windows, screen)
    for w in windows:
        if w.element is not None:
            root = elements[w.element]
            root.role = _WINDOW_ROLES.get(w.kind, Role.window)
            root.attrs["window-type"] = w.kind
    if not windows:
        warnings.append("the hierarchy dump has no windows")
    elif not elements:
        warnings.append("no window of the hierarchy dump is visible on screen")
    if no_bounds:
        warnings.append(f"{no_bounds} node(s) without parsable bounds were left out with their subtrees")
    if other_tags:
        warnings.append(f"{other_tags} element(s) other than <node> were ignored")
    return ParsedTree(elements=elements, windows=windows, foreground=_foreground(windows), rotation=rotation,
                      warnings=warnings, node_count=nodes)
