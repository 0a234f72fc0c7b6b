"""The sim phone's screen as a uiautomator ``dumpWindowHierarchy`` XML dump.

The format is the one Android's ``AccessibilityNodeInfoDumper`` writes through KXmlSerializer (what the
uiautomator2 device server returns): an XML declaration, ``<hierarchy rotation="0">``, one root ``<node>`` per
window, lines ending in ``\\r\\n``, two spaces per level, empty nodes written `` />``, and per node the
attributes ``[NAF] index text resource-id class package content-desc checkable checked clickable enabled
focusable focused scrollable long-clickable password selected visible-to-user bounds [drawing-order] [hint]
[display-id]`` in that order (``resource-id`` from API 18, ``drawing-order`` 24, ``hint`` 26, ``display-id`` 30).

Windows: the app (or the launcher / recents, package ``com.handa.launcher``), the status bar and the navigation
bar (package ``com.handa.system``), and every dialog or popup menu the app shows as its own window root sized to
the dialog (as Android gives a dialog its own window). The sim's scrim behind a dialog is not a node: tapping
outside a dialog dismisses it, as touching outside a dialog window does on Android.

How a sim element becomes a node:

- class by role (``button`` -> ``android.widget.Button``, or ``ImageButton`` when it has only a description;
  ``text_field`` -> ``EditText``; ``switch``/``checkbox``/``radio``; ``slider`` -> ``SeekBar``; ``dropdown`` ->
  ``Spinner``; ``list`` -> ``androidx.recyclerview.widget.RecyclerView``; ``menu`` -> ``ListView``;
  ``list_item`` -> ``LinearLayout``; ``tab``/``text``/``heading``/``link``/``menu_item`` -> ``TextView``;
  ``image``/``icon`` -> ``ImageView``; ``toolbar`` -> ``android.view.ViewGroup``; a row -> ``LinearLayout``, a tab
  bar -> ``TabWidget``; other containers and dialogs -> ``FrameLayout``).
- ``text`` is the element's name; ``content-desc`` its description. Text fields: ``text`` is the value (a
  password as one ``•`` per character, ``password="true"``), ``content-desc`` the description or else the
  name (the field's label), ``hint`` the hint. Sliders: ``text`` is the value as a float (``"50.0"``, as
  Android reports a RangeInfo), ``content-desc`` the name. Dropdowns: a ``Spinner`` whose ``content-desc`` is
  the name, with one child ``TextView`` (``android:id/text1``) holding the selected value. A list row's
  trailing value (a time, a count) is a child ``TextView`` at the row's right end.
- ``resource-id`` is the sim element's own ``resource-id`` attribute verbatim (some seeds strip ids, as
  minified apps do: then it is empty); ``package`` its package.
- with ``expose_keys`` every node also carries ``sim-key`` (the sim node's key; a synthesized child gets its
  parent's key plus ``#value``): non-standard, only the sim's own experts may read it.

Values a real screen would not show (a heading's machine value, a tab's count) are left out.
"""
from __future__ import annotations

import re
from typing import Any, Iterator, Optional

from controllers.elements import Observation, Role, UIElement

HEADER = "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>"
LAUNCHER_PACKAGE = "com.handa.launcher"
SYSTEM_PACKAGE = "com.handa.system"
OVERLAY_KINDS = ("scrim", "scrim_clear")

ROLE_CLASS = {
    Role.button: "android.widget.Button",
    Role.text_field: "android.widget.EditText",
    Role.checkbox: "android.widget.CheckBox",
    Role.switch: "android.widget.Switch",
    Role.radio: "android.widget.RadioButton",
    Role.link: "android.widget.TextView",
    Role.tab: "android.widget.TextView",
    Role.list_item: "android.widget.LinearLayout",
    Role.menu_item: "android.widget.TextView",
    Role.menu: "android.widget.ListView",
    Role.slider: "android.widget.SeekBar",
    Role.dropdown: "android.widget.Spinner",
    Role.image: "android.widget.ImageView",
    Role.icon: "android.widget.ImageView",
    Role.text: "android.widget.TextView",
    Role.heading: "android.widget.TextView",
    Role.dialog: "android.widget.FrameLayout",
    Role.window: "android.widget.FrameLayout",
    Role.container: "android.widget.FrameLayout",
    Role.list: "androidx.recyclerview.widget.RecyclerView",
    Role.toolbar: "android.view.ViewGroup",
    Role.progress: "android.widget.ProgressBar",
    Role.keyboard: "android.inputmethodservice.KeyboardView",
    Role.web_view: "android.webkit.WebView",
    Role.unknown: "android.view.View",
}
KIND_CLASS = {"row": "android.widget.LinearLayout", "tabbar": "android.widget.TabWidget"}
LAYOUT_ROLES = (Role.dialog, Role.window, Role.container, Role.list, Role.menu, Role.toolbar)
CHECKABLE_ROLES = (Role.checkbox, Role.switch, Role.radio)
FOCUSABLE_ROLES = (Role.text_field, Role.slider, Role.dropdown, Role.checkbox, Role.switch, Role.radio, Role.tab)

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape_attr(value: str) -> str:
    """An attribute value as KXmlSerializer writes it (invalid XML characters become ``.``, as the dumper does)."""
    value = _INVALID_XML.sub(".", value)
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


class XNode:
    """One ``<node>``: its attributes in dump order, children, and what sim element / node it stands for."""

    __slots__ = ("attrs", "children", "parent", "eid", "key", "synthetic")

    def __init__(self, attrs: dict[str, str], eid: Optional[int], key: str, synthetic: bool = False):
        self.attrs = attrs
        self.children: list[XNode] = []
        self.parent: Optional[XNode] = None
        self.eid = eid
        self.key = key
        self.synthetic = synthetic

    def add(self, child: "XNode") -> "XNode":
        child.parent = self
        self.children.append(child)
        return child

    def walk(self) -> Iterator["XNode"]:
        yield self
        for c in self.children:
            yield from c.walk()

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        nums = [int(v) for v in re.findall(r"-?\d+", self.attrs.get("bounds", ""))]
        return tuple(nums[:4]) if len(nums) >= 4 else (0, 0, 0, 0)  # type: ignore[return-value]

    def get(self, name: str) -> str:
        return self.attrs.get(name, "")

    def flag(self, name: str) -> bool:
        return self.attrs.get(name) == "true"


def _b(v: bool) -> str:
    return "true" if v else "false"


class HierarchyDumper:
    """Turns a ``SimDevice`` observation into uiautomator's window hierarchy.

    ``api_level`` decides which attributes exist (below 18 there is no ``resource-id``); ``expose_keys`` adds
    the sim-only ``sim-key``; ``hint_as_text`` makes an empty text field report its hint as its text, as
    Android 8+ does for a field showing its hint.
    """

    def __init__(self, *, api_level: int = 35, expose_keys: bool = False, hint_as_text: bool = False):
        self.api_level = api_level
        self.expose_keys = expose_keys
        self.hint_as_text = hint_as_text

    # ------------------------------------------------------------ tree
    def windows(self, obs: Observation, nodes: dict[int, Any]) -> list[XNode]:
        """The window roots: app (or launcher), its dialogs and menus, status bar, navigation bar."""
        elements = obs.elements
        apps: list[XNode] = []
        overlays: list[XNode] = []
        bars: list[XNode] = []
        for el in elements:
            if el.parent is not None:
                continue
            node = nodes.get(el.id)
            kind = getattr(node, "kind", "")
            package_override = LAUNCHER_PACKAGE if kind == "launcher" else None
            found: list[XNode] = []
            root = self._build(el, elements, nodes, 0, 0, package_override, found)
            if kind in ("statusbar", "navbar", "taskbar"):
                bars.append(root)
            else:
                apps.append(root)
            overlays.extend(found)
        for w in overlays:  # a window root is at index 0 and draws first in its own window
            w.attrs["index"] = "0"
            if "drawing-order" in w.attrs:
                w.attrs["drawing-order"] = "0"
        return apps + overlays + bars

    def _build(self, el: UIElement, elements: list[UIElement], nodes: dict[int, Any], index: int, order: int,
               package_override: Optional[str], overlays: list[XNode]) -> XNode:
        node = nodes.get(el.id)
        x = XNode(self._attrs(el, node, index, order, package_override), el.id,
                  el.attrs.get("sim-key", getattr(node, "key", "")))
        i = 0
        for cid in el.children:
            child = elements[cid]
            cnode = nodes.get(cid)
            if getattr(cnode, "kind", "") in OVERLAY_KINDS:
                # the dialog or menu inside the scrim becomes a window of its own
                for gid in child.children:
                    overlays.append(self._build(elements[gid], elements, nodes, 0, 0, package_override, overlays))
                continue
            x.add(self._build(child, elements, nodes, i, i + 1, package_override, overlays))
            i += 1
        extra = self._value_child(el, node, x, i, package_override)
        if extra is not None:
            x.add(extra)
        if el.role in LAYOUT_ROLES and x.attrs["text"]:
            # a layout has no text of its own on Android: its title is a child, or else its description
            name = x.attrs["text"]
            x.attrs["text"] = ""
            if not x.attrs["content-desc"] and not any(n.get("text") == name for n in x.walk()):
                x.attrs["content-desc"] = name
        if self._naf(x):
            x.attrs = {"NAF": "true", **x.attrs}
        return x

    @staticmethod
    def _naf(x: XNode) -> bool:
        if not (x.flag("clickable") and x.flag("enabled")):
            return False
        return not any(n.get("text") or n.get("content-desc") for n in x.walk())

    def _package(self, el: UIElement, override: Optional[str]) -> str:
        return override or el.attrs.get("package") or el.app or SYSTEM_PACKAGE

    def _resource_id(self, el: UIElement, package: str) -> str:
        rid = el.attrs.get("resource-id", "")
        if rid and ":id/" in rid:
            pkg, _, name = rid.partition(":id/")
            if pkg == SYSTEM_PACKAGE and package == LAUNCHER_PACKAGE:
                rid = f"{package}:id/{name}"
        return rid

    def _attrs(self, el: UIElement, node: Any, index: int, order: int, package_override: Optional[str]) -> dict:
        role = el.role
        kind = getattr(node, "kind", "")
        st = el.states
        package = self._package(el, package_override)
        cls = KIND_CLASS.get(kind) or ROLE_CLASS.get(role, "android.view.View")
        if role is Role.button and not el.name and el.description:
            cls = "android.widget.ImageButton"
        text, desc, hint = el.name, el.description, el.hint
        if role is Role.text_field:
            text = el.value
            desc = el.description or el.name
            if not text and self.hint_as_text and not st.focused:
                text = el.hint
        elif role is Role.slider:
            try:
                text = f"{float(el.value)}"
            except ValueError:
                text = el.value
            desc = el.description or el.name
        elif role is Role.dropdown:
            text, desc = "", el.description or el.name
        checked = st.checked
        checkable = role in CHECKABLE_ROLES or checked is not None
        clickable = bool(st.clickable)
        long_clickable = getattr(node, "on_long_press", None) is not None
        focusable = clickable or st.editable or role in FOCUSABLE_ROLES
        a: dict[str, str] = {"index": str(index), "text": text}
        if self.api_level >= 18:
            a["resource-id"] = self._resource_id(el, package)
        a.update({
            "class": cls, "package": package, "content-desc": desc,
            "checkable": _b(checkable), "checked": _b(bool(checked)), "clickable": _b(clickable),
            "enabled": _b(st.enabled), "focusable": _b(focusable), "focused": _b(st.focused),
            "scrollable": _b(st.scrollable), "long-clickable": _b(long_clickable), "password": _b(st.password),
            "selected": _b(st.selected), "visible-to-user": "true",
            "bounds": f"[{el.bounds.left},{el.bounds.top}][{el.bounds.right},{el.bounds.bottom}]",
        })
        self._tail(a, order, hint)
        if self.expose_keys:
            a["sim-key"] = el.attrs.get("sim-key", getattr(node, "key", ""))
            # the sim's own reading of the node, which Android's XML cannot carry (a row's value, a heading, a
            # menu): only the sim's experts see these, as they alone see sim-key
            a["sim-role"], a["sim-name"], a["sim-value"] = el.role.value, el.name, el.value
        return a

    def _tail(self, a: dict[str, str], order: int, hint: str) -> None:
        if self.api_level >= 24:
            a["drawing-order"] = str(order)
        if self.api_level >= 26:
            a["hint"] = hint
        if self.api_level >= 30:
            a["display-id"] = "0"

    def _value_child(self, el: UIElement, node: Any, parent: XNode, index: int,
                     package_override: Optional[str]) -> Optional[XNode]:
        """A TextView for a value the element shows besides its name (a row's trailing text, a spinner's choice)."""
        if el.role not in (Role.list_item, Role.dropdown) or not el.value:
            return None
        b = el.bounds
        if el.role is Role.dropdown:
            left, right, rid = b.left, b.right, "android:id/text1"
        else:
            scale = max(1.0, b.height / 56.0)
            right = b.right - int(16 * scale)
            left = max(b.left + b.width // 2, right - int((9 * len(el.value) + 8) * scale))
            rid = ""
            if right <= left:
                left, right = b.left, b.right
        package = self._package(el, package_override)
        a: dict[str, str] = {"index": str(index), "text": el.value}
        if self.api_level >= 18:
            a["resource-id"] = rid
        a.update({
            "class": "android.widget.TextView", "package": package, "content-desc": "",
            "checkable": "false", "checked": "false", "clickable": "false", "enabled": _b(el.states.enabled),
            "focusable": "false", "focused": "false", "scrollable": "false", "long-clickable": "false",
            "password": "false", "selected": "false", "visible-to-user": "true",
            "bounds": f"[{left},{b.top}][{right},{b.bottom}]",
        })
        self._tail(a, index + 1, "")
        key = f"{parent.key}#value"  # no sim-key attribute: the sim has no such node for its experts to count
        return XNode(a, None, key, synthetic=True)

    # ------------------------------------------------------------ text
    @staticmethod
    def serialize(roots: list[XNode], rotation: int = 0, max_depth: int = 50) -> str:
        """The XML text. Nodes deeper than ``max_depth`` (roots are depth 0) are left out."""
        out = [HEADER, f'<hierarchy rotation="{rotation}">']

        def rec(n: XNode, depth: int) -> None:
            ind = "  " * (depth + 1)
            attrs = " ".join(f'{k}="{escape_attr(v)}"' for k, v in n.attrs.items())
            kids = n.children if depth < max_depth else []
            if kids:
                out.append(f"{ind}<node {attrs}>")
                for c in kids:
                    rec(c, depth + 1)
                out.append(f"{ind}</node>")
            else:
                out.append(f"{ind}<node {attrs} />")

        for r in roots:
            rec(r, 0)
        out.append("</hierarchy>")
        return "\r\n".join(out)

    def dump(self, obs: Observation, nodes: dict[int, Any], *, max_depth: int = 50,
             root_in_active: bool = False) -> str:
        roots = self.windows(obs, nodes)
        if root_in_active:  # the top-most app window: a dialog over the app, else the app
            active = [r for r in roots if r.get("package") != SYSTEM_PACKAGE]
            roots = active[-1:] or roots[:1]
        return self.serialize(roots, 0, max_depth)
