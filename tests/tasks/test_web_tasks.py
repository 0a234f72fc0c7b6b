"""Web tasks: the page server, the pages in real headless Chromium, sampling, success checks and experts.

No X server is needed: pages are loaded with ``chromium --headless=new --dump-dom``
and experts are shown hand-made observations shaped like Chromium's AT-SPI tree.
"""
import hashlib
import html
import http.client
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from agent.validate import validate
from controllers.elements import ElementStates, Observation, Platform, Rect, ScreenFrame, UIElement
from controllers.policy import HistoryEntry
from controllers.actions import Key
from tasks.base import REGISTRY
from tasks.web import WEB_TASKS, TaskServer, WebExpertPolicy, get_web_task, make_web_instance
from tasks.web.server import MAX_STATE_BYTES, PAGES_DIR

PAGES = sorted(p.name for p in PAGES_DIR.glob("*.html"))
SCRIPTS = sorted(p.name for p in PAGES_DIR.glob("*.js"))
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def server():
    with TaskServer() as s:
        yield s


def _get(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", path)  # sent as is: no client-side normalisation of ".."
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        conn.close()


def _post(server, session, body, content_length=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json",
                   "Content-Length": str(len(data) if content_length is None else content_length)}
        conn.request("POST", f"/state/{session}", body=data, headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


# ---------------------------------------------------------------- the server


def test_there_are_six_to_eight_tasks_over_every_page_in_their_own_registry():
    assert 6 <= len(WEB_TASKS) <= 8
    assert {t.page for t in WEB_TASKS.values()} == set(PAGES)
    assert len(PAGES) >= 6
    assert not set(WEB_TASKS) & set(REGISTRY), "web tasks are not sim templates"
    for tid, t in WEB_TASKS.items():
        assert tid.startswith("web.") and t.id == tid


def test_server_serves_every_page_as_utf8_html(server):
    assert server.port > 0
    for page in PAGES:
        status, ctype, body = _get(server, "/" + page)
        assert status == 200, page
        assert ctype.startswith("text/html") and "utf-8" in ctype
        text = body.decode("utf-8")
        assert '<meta charset="utf-8">' in text
        assert '<script src="common.js"></script>' in text, f"{page} does not load the shared script"
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), f"{page} loads an external resource"
    status, _, body = _get(server, "/")
    assert status == 200 and json.loads(body) == PAGES, "the index lists the pages only"


def test_server_serves_the_shared_script_as_utf8_javascript(server):
    assert "common.js" in SCRIPTS
    for script in SCRIPTS:
        status, ctype, body = _get(server, "/" + script)
        assert status == 200, script
        assert ctype == "text/javascript; charset=utf-8"
        assert body == (PAGES_DIR / script).read_bytes()
    text = (PAGES_DIR / "common.js").read_text("utf-8")
    assert "fetch(\"/state/\"" in text or "fetch('/state/'" in text
    assert not re.search(r"https?:", text), "common.js loads nothing from elsewhere"
    with pytest.raises(ValueError):
        server.url("common.js")  # a script is served, but it is no page to open


@pytest.mark.parametrize("path", [
    "/../server.py", "/..%2fserver.py", "/%2e%2e/tasks.py", "/%2e%2e%2f%2e%2e%2fREADME.md", "/pages/signup.html",
    "/server.py", "/tasks.py", "/__init__.py", "/signup.html/../../server.py", "/nope.html", "//etc/passwd",
    "/signup.html%00.py", "/.hidden.html", "/SIGNUP.HTML", "/signup.htm",
    "/../server.js", "/%2e%2e/common.js", "/pages/common.js", "/common.js/../../server.py", "/nope.js",
    "/COMMON.JS", "/common.js%00.py", "/.common.js", "/common.mjs", "/common.js.map", "/common.json",
])
def test_server_refuses_traversal_and_anything_but_a_page(server, path):
    status, _, body = _get(server, path)
    assert status == 404, path
    assert b"TaskServer" not in body and b"import" not in body


def test_server_keeps_the_latest_state_per_session(server):
    assert server.state("alpha") is None
    assert _post(server, "alpha", {"page": "x", "seq": 1, "n": "한글 <&>"}) == 204
    assert _post(server, "beta", {"page": "y", "seq": 1}) == 204
    assert server.state("alpha") == {"page": "x", "seq": 1, "n": "한글 <&>"}
    assert server.state("beta") == {"page": "y", "seq": 1}
    assert _post(server, "alpha", {"page": "x", "seq": 3}) == 204
    assert _post(server, "alpha", {"page": "x", "seq": 2}) == 204  # overtaken by a newer report: ignored
    assert server.state("alpha") == {"page": "x", "seq": 3}
    copy = server.state("alpha")
    copy["seq"] = 99
    assert server.state("alpha")["seq"] == 3, "state() hands out copies"
    assert {"alpha", "beta"} <= set(server.sessions())
    server.forget("beta")
    assert server.state("beta") is None


@pytest.mark.parametrize("body,status", [
    (b"{not json", 400), (b"[1, 2]", 400), (b'"text"', 400), (b"\xff\xfe{}", 400), (b"", 400),
])
def test_server_rejects_bad_state_posts(server, body, status):
    assert _post(server, "bad-json", body) == status
    assert server.state("bad-json") is None


def test_server_caps_state_size_and_checks_the_session(server):
    big = {"x": "a" * (MAX_STATE_BYTES + 10)}
    assert _post(server, "big", big) == 413
    assert server.state("big") is None
    assert _post(server, "a%20b", {"seq": 1}) == 400
    assert _post(server, "", {"seq": 1}) == 400
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/signup.html", body=b"{}", headers={"Content-Length": "2"})
    assert conn.getresponse().status == 404
    conn.close()


def test_wait_state_waits_for_a_matching_report(server):
    def later():
        time.sleep(0.3)
        _post(server, "waiter", {"seq": 1, "done": False})
        time.sleep(0.2)
        _post(server, "waiter", {"seq": 2, "done": True})

    threading.Thread(target=later, daemon=True).start()
    got = server.wait_state("waiter", lambda s: s["done"], timeout=5)
    assert got == {"seq": 2, "done": True}
    t0 = time.monotonic()
    assert server.wait_state("waiter", lambda s: s["missing"], timeout=0.3) is None  # a raising predicate: no
    assert server.wait_state("nobody", timeout=0.2) is None
    assert time.monotonic() - t0 < 2


def test_url_round_trips_any_text_and_knows_only_pages(server):
    value = '한글 & <b> "q" ?x=1#frag 100%'
    url = server.url("signup.html", session="s-1", note=value)
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port == server.port and parts.path == "/signup.html"
    assert parse_qs(parts.query) == {"session": ["s-1"], "note": [value]}
    for bad in ("server.py", "../signup.html", "missing.html"):
        with pytest.raises(ValueError):
            server.url(bad)


def test_server_is_quiet_and_closes_idempotently(capfd):
    with TaskServer() as s:
        _get(s, "/signup.html")
        _get(s, "/nope.html")
        _post(s, "quiet", {"seq": 1})
        _post(s, "quiet", b"{bad")
        port = s.port
    s.close()
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/signup.html", timeout=2)


# ---------------------------------------------------------------- the pages in headless Chromium


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("no Chromium on PATH: the web task pages need it (scripts/setup.sh)")


def _dump_dom(url: str) -> str:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        r = subprocess.run([_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                            "--disable-background-networking", "--disable-component-update", "--disable-sync",
                            f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom", url],
                           capture_output=True, timeout=90)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return r.stdout.decode("utf-8")


def _initial_state(tid, params) -> dict:
    """What a page must report on load for these parameters (the keys that say its configuration)."""
    page = WEB_TASKS[tid].page
    if page == "signup.html":
        pre = params["prefill"]
        return {"values": {"name": pre.get("name", ""), "email": pre.get("email", ""), "about": "",
                           "plan": pre.get("plan", ""), "agree": False, "password_length": 0,
                           "password_sha256": hashlib.sha256(b"").hexdigest()},
                "errors": {}, "submitted": None, "submit_count": 0}
    if page == "settings.html":
        return {"switches": dict(params["switches"]), "checkboxes": dict(params["boxes"]),
                "slider": {"label": params["slider"]["label"], "value": params["slider"]["value"]}, "changes": 0}
    if page == "files.html":
        names = [f[0] for f in params["files"]]
        return {"files": names, "total": len(names), "filter": "", "shown": len(names), "view": "list",
                "opened": None, "opened_ever": [], "menu_for": None, "dialog_for": None, "deleted": [], "renamed": []}
    if page == "board.html":
        cols = {c: [t for t, i in params["cards"] if params["columns"][i] == c] for c in params["columns"]}
        return {"columns": cols, "column_order": params["columns"], "moves": 0}
    if page == "notes.html":
        return {"text": params["initial"], "saved_text": params["initial"], "dirty": False, "saves": 0}
    if page == "subscriptions.html":
        return {"subscribed": [n for n, on in params["subs"] if on],
                "unsubscribed": [n for n, on in params["subs"] if not on], "dialog_for": None}
    raise AssertionError(f"no expectation for {page}")


def _shown_texts(tid, params) -> list[str]:
    page = WEB_TASKS[tid].page
    if page == "signup.html":
        return list(params["plans"])
    if page == "settings.html":
        return [label for label, _ in params["switches"] + params["boxes"]] + [params["slider"]["label"]]
    if page == "files.html":
        return [f[0] for f in params["files"]]
    if page == "board.html":
        return params["columns"] + [t for t, _ in params["cards"]]
    if page == "notes.html":
        return [params["title"]]  # a text area's content is a property, not in the dumped DOM (the state has it)
    return [n for n, _ in params["subs"]]


@pytest.mark.parametrize("tid", sorted(WEB_TASKS))
def test_every_page_loads_in_headless_chromium_and_reports_its_instance(server, tid):
    seed = sorted(WEB_TASKS).index(tid) + 3
    inst = make_web_instance(tid, seed, server)
    dom = _dump_dom(inst.url)
    state = server.wait_state(inst.session, timeout=10)
    assert state is not None, f"{tid}: the page never reported its state"
    assert state["page"] == WEB_TASKS[tid].page[:-5] and state["session"] == inst.session
    assert isinstance(state["seq"], int) and state["seq"] >= 1
    for key, want in _initial_state(tid, inst.params).items():
        assert state[key] == want, f"{tid}: {key} is {state[key]!r}, expected {want!r}"
    for text in _shown_texts(tid, inst.params):
        assert html.escape(text, quote=False) in dom, f"{tid}: {text!r} is not on the page"
    assert not inst.task.is_successful(state, inst.params, None)
    assert not inst.is_successful(timeout=0.05)


def test_pages_differ_by_seed_and_show_korean(server):
    a, b = make_web_instance("web.delete_file", 1, server), make_web_instance("web.delete_file", 2, server)
    dom_a = _dump_dom(a.url)
    assert server.wait_state(a.session, timeout=10)["files"] == [f[0] for f in a.params["files"]]
    assert a.params["files"] != b.params["files"]
    assert HANGUL.search(dom_a), "Korean file names reach the page through the URL"


# ---------------------------------------------------------------- sampling and goals


@pytest.mark.parametrize("tid", sorted(WEB_TASKS))
def test_sampling_is_deterministic_and_goals_format(server, tid):
    task = get_web_task(tid)
    a, b = make_web_instance(tid, 7, server), make_web_instance(tid, 7, server)
    assert (a.goal, a.params, a.url.split("session=")[0]) == (b.goal, b.params, b.url.split("session=")[0])
    assert a.session != b.session, "every instance reports to a session of its own"
    assert json.loads(json.dumps(a.params)) == a.params, "params are JSON-ready"
    assert len({json.dumps(make_web_instance(tid, s, server).params, sort_keys=True) for s in range(8)}) >= 4
    assert len(task.goals) >= 3 and any(HANGUL.search(g) for g in task.goals), "several wordings, some Korean"
    for s in range(6):
        inst = make_web_instance(tid, s, server)
        for i in range(len(task.goals)):
            goal = make_web_instance(tid, s, server, wording=i).goal
            assert goal == task.goals[i].format(**inst.params)
            assert "{" not in goal.replace("{}", "") or "{" in json.dumps(inst.params), goal
        q = task.query(inst.params)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in q.items()) and "session" not in q
        assert task.steps_hint >= 1
        assert not task.is_successful(None, inst.params, None)
        assert not task.is_successful({"page": "elsewhere"}, inst.params, None)


def test_signup_params_have_the_hard_characters_and_a_secret_password(server):
    for s in range(10):
        inst = make_web_instance("web.signup", s, server)
        about = inst.params["about"]
        assert "<" in about and ">" in about and "&" in about and HANGUL.search(about)
        pw = inst.params["password"]
        assert len(pw) >= 8 and inst.secrets == {"password": pw}
        assert pw in inst.goal
        assert pw not in inst.url and json.dumps(pw)[1:-1] not in inst.url
        assert inst.params["plan"] in inst.params["plans"]
        assert len({p[0] for p in inst.params["plans"]}) == len(inst.params["plans"]), "type-ahead letters"


def test_unknown_web_task_is_a_helpful_key_error(server):
    with pytest.raises(KeyError, match="web.signup"):
        get_web_task("web.nope")
    with pytest.raises(KeyError):
        make_web_instance("settings.wifi", 0, server)  # a sim template, not a web task


def test_delete_target_sits_far_down_the_long_list(server):
    for s in range(10):
        p = make_web_instance("web.delete_file", s, server).params
        names = [f[0] for f in p["files"]]
        assert len(names) == len(set(names)) >= 30
        assert names.index(p["file"]) >= 20, "reaching it needs a scroll"
        assert any(HANGUL.search(n) for n in names)


# ---------------------------------------------------------------- success checks on hand-made states


def _sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def _goal_state(tid, p) -> dict:
    """The state the page reports once the task is done."""
    s = {"page": WEB_TASKS[tid].page[:-5], "seq": 9}
    s.update(_initial_state(tid, p))
    if tid == "web.signup":
        sub = {"name": p["name"], "email": p["email"], "about": p["about"], "plan": p["plan"], "agree": True,
               "password_sha256": _sha(p["password"])}
        s["values"] = dict(sub, password_length=len(p["password"]))
        s["submitted"] = sub
    elif tid == "web.settings_toggle":
        key = "switches" if p["kind"] == "switch" else "checkboxes"
        s[key][p["label"]] = p["on"]
    elif tid == "web.settings_slider":
        s["slider"]["value"] = p["value"]
    elif tid == "web.delete_file":
        s["files"] = [n for n in s["files"] if n != p["file"]]
        s["deleted"] = [p["file"]]
    elif tid == "web.file_question":
        s.update(view="detail", opened=p["file"], opened_ever=[p["file"]])
    elif tid == "web.move_card":
        for c in s["columns"].values():
            if p["card"] in c:
                c.remove(p["card"])
        s["columns"][p["column"]].append(p["card"])
    elif tid == "web.replace_note":
        s.update(text=p["text"], saved_text=p["text"], saves=1)
    elif tid == "web.unsubscribe":
        s["subscribed"] = [n for n in s["subscribed"] if n != p["name"]]
        s["unsubscribed"] = s["unsubscribed"] + [p["name"]]
    return s


def _answer(tid, p):
    return p["expected"] if tid == "web.file_question" else None


def _near_misses(tid, p, goal) -> list[tuple[str, dict, object]]:
    """(what is wrong, a state, the answer) that must not count as success."""
    def variant(**changes):
        s = json.loads(json.dumps(goal))
        for k, v in changes.items():
            s[k] = v
        return s

    out = [("initial", dict({"page": goal["page"], "seq": 1}, **_initial_state(tid, p)), _answer(tid, p))]
    if tid == "web.signup":
        sub = goal["submitted"]
        out += [
            ("filled, never submitted", variant(submitted=None), None),
            ("about escaped as HTML", variant(submitted=dict(sub, about=html.escape(p["about"]))), None),
            ("terms not agreed", variant(submitted=dict(sub, agree=False)), None),
            ("wrong password", variant(submitted=dict(sub, password_sha256=_sha(p["password"] + "x"))), None),
            ("other plan", variant(submitted=dict(sub, plan=next(x for x in p["plans"] if x != p["plan"]))), None),
            ("email with a space", variant(submitted=dict(sub, email=p["email"] + " ")), None),
        ]
    elif tid == "web.settings_toggle":
        other = next(label for label, _ in p["switches"] if label != p["label"])
        flipped = variant()
        flipped["switches"][other] = not flipped["switches"][other]
        out.append(("another switch flipped too", flipped, None))
        wrong = variant()
        key = "switches" if p["kind"] == "switch" else "checkboxes"
        wrong[key][p["label"]] = not p["on"]
        out.append(("target left as it was", wrong, None))
    elif tid == "web.settings_slider":
        for delta in (-1, 1):
            s = variant()
            s["slider"]["value"] = p["value"] + delta
            out.append((f"slider off by {delta}", s, None))
        s = variant()
        first = p["switches"][0][0]
        s["switches"][first] = not s["switches"][first]
        out.append(("a switch changed on the way", s, None))
    elif tid == "web.delete_file":
        names = [f[0] for f in p["files"]]
        other = names[0]
        out += [
            ("another file deleted", variant(files=[n for n in names if n != other], deleted=[other]), None),
            ("target and another deleted", variant(files=[n for n in names if n not in (other, p["file"])],
                                                   deleted=[other, p["file"]]), None),
            ("dialog open, not confirmed", variant(files=names, deleted=[], dialog_for=p["file"]), None),
            ("renamed instead", variant(files=names, deleted=[], renamed=[[p["file"], "x.txt"]]), None),
        ]
    elif tid == "web.file_question":
        wrong = next(f for f in p["files"] if f[0] != p["file"] and p["expected"] not in f[1:])
        value = {"size": wrong[1], "owner": wrong[2], "modified": wrong[3]}[p["field"]]
        out += [
            ("wrong answer", goal, value),
            ("no answer", goal, None),
            ("right answer without opening it", variant(opened=None, opened_ever=[], view="list"), p["expected"]),
            ("an answer listing everything", goal, " ".join(f[1] + f[2] + f[3] for f in p["files"])),
        ]
    elif tid == "web.move_card":
        wrong_col = next(c for c in p["columns"] if c != p["column"] and p["card"] not in goal["columns"][c])
        s = variant()
        s["columns"][p["column"]].remove(p["card"])
        s["columns"][wrong_col].append(p["card"])
        out.append(("moved to the wrong column", s, None))
        other = next(t for t, _ in p["cards"] if t != p["card"])
        s = variant()
        for c in s["columns"].values():
            if other in c:
                c.remove(other)
        s["columns"][next(c for c in p["columns"] if other not in goal["columns"][c])].append(other)
        out.append(("another card moved too", s, None))
    elif tid == "web.replace_note":
        out += [
            ("typed, not saved", variant(saved_text=p["initial"], dirty=True), None),
            ("appended to the old text", variant(text=p["initial"] + p["text"], saved_text=p["initial"] + p["text"]),
             None),
            ("saved, then changed", variant(text=p["text"] + "!", dirty=True), None),
        ]
    elif tid == "web.unsubscribe":
        other = next(n for n in goal["subscribed"])
        out += [
            ("dialog open, not confirmed", variant(subscribed=[n for n, on in p["subs"] if on], dialog_for=p["name"]),
             None),
            ("another one unsubscribed", variant(subscribed=[n for n, on in p["subs"] if on and n != other]), None),
            ("target and another", variant(subscribed=[n for n in goal["subscribed"] if n != other]), None),
        ]
    return out


@pytest.mark.parametrize("tid", sorted(WEB_TASKS))
def test_success_checks_accept_the_goal_state_and_refuse_near_misses(server, tid):
    task = get_web_task(tid)
    for seed in range(5):
        p = make_web_instance(tid, seed, server).params
        goal = _goal_state(tid, p)
        assert task.is_successful(goal, p, _answer(tid, p)), f"{tid} seed {seed}: the goal state is refused"
        misses = _near_misses(tid, p, goal)
        assert len(misses) >= 2
        for what, state, answer in misses:
            assert not task.is_successful(state, p, answer), f"{tid} seed {seed}: {what} counts as success"


def test_instance_success_reads_the_server_state(server):
    inst = make_web_instance("web.unsubscribe", 3, server)
    assert not inst.is_successful(timeout=0.05)
    assert _post(server, inst.session, dict(_goal_state("web.unsubscribe", inst.params), seq=1)) == 204
    assert inst.is_successful(timeout=0.5)
    assert inst.state()["page"] == "subscriptions"
    q = make_web_instance("web.file_question", 3, server)
    assert _post(server, q.session, _goal_state("web.file_question", q.params)) == 204
    assert q.is_successful(q.params["expected"], timeout=0.5)
    assert not q.is_successful("no idea", timeout=0.05)


# ---------------------------------------------------------------- experts on hand-made observations


class Tree:
    """A page as Chromium's AT-SPI tree gives it: a web view under browser chrome, elements inside."""

    def __init__(self, width=1280, height=800):
        self.width, self.height = width, height
        self.els: list[dict] = []
        self.toolbar = self.add("toolbar", "", (0, 40, width, 140))
        self.add("button", "Back", (6, 46, 40, 80), parent=self.toolbar)
        self.add("button", "Reload", (78, 46, 112, 80), parent=self.toolbar)
        self.add("text_field", "Address and search bar", (158, 51, 1150, 75), parent=self.toolbar)
        self.doc = self.add("web_view", "Page", (0, 143, width, height))

    def add(self, role, name="", box=(0, 0, 0, 0), parent=None, value="", **states):
        i = len(self.els)
        l, t, r, b = box
        self.els.append(dict(id=i, role=role, name=name, value=value, parent=parent,
                             bounds=Rect(left=l, top=t, right=r, bottom=b), states=states, children=[]))
        if parent is not None:
            self.els[parent]["children"].append(i)
        return i

    def under(self, parent, role, name="", box=(0, 0, 0, 0), value="", **states):
        return self.add(role, name, box, parent=parent, value=value, **states)

    def obs(self) -> Observation:
        els = []
        for e in self.els:
            st = dict(visible=True)
            st.update(e["states"])
            els.append(UIElement(id=e["id"], role=e["role"], name=e["name"], value=e["value"], bounds=e["bounds"],
                                 parent=e["parent"], children=e["children"], states=ElementStates(**st)))
        return Observation(platform=Platform.desktop, screen=ScreenFrame(width=self.width, height=self.height),
                           elements=els, app="chromium")


def _act(tid, params, tree, history=()):
    obs = tree.obs() if isinstance(tree, Tree) else tree
    action = get_web_task(tid).act(obs, params, list(history))
    checked, error = validate(action, obs)
    assert error is None, f"the expert's action is refused: {error}"
    return checked


def _files_page(p, first=0, rows=10, target_in_tree=True, menu_for=None, dialog_for=None, status=""):
    t = Tree()
    t.under(t.doc, "heading", "Files", (32, 160, 1240, 196))
    t.under(t.doc, "text_field", "Search files", (32, 204, 392, 246))
    if status:
        bar = t.under(t.doc, "text", "", (32, 250, 400, 274))
        t.under(bar, "text", status, (32, 250, 400, 274))
    lst = t.under(t.doc, "list", "Files", (32, 280, 932, 740))
    ids = {}
    for i, f in enumerate(p["files"]):
        top = 280 + (i - first) * 46
        if f[0] == p.get("file") and not target_in_tree:
            continue
        shown = 280 <= top and top + 46 <= 740
        li = t.under(lst, "list_item", f[0], (32, top, 932, top + 46), visible=shown)
        t.under(li, "text", f[0], (80, top + 10, 400, top + 36), visible=shown)
        ids[f[0]] = li
    if menu_for:
        menu = t.under(t.doc, "menu", f"Actions for {menu_for}", (300, 400, 480, 540))
        for k, n in enumerate(("Open", "Rename", "Delete")):
            t.under(menu, "menu_item", n, (300, 406 + 44 * k, 480, 450 + 44 * k))
    if dialog_for:
        d = t.under(t.doc, "dialog", "Delete file?", (450, 350, 830, 560))
        t.under(d, "heading", "Delete file?", (470, 370, 810, 400))
        para = t.under(d, "text", "", (470, 420, 810, 444))
        t.under(para, "text", f"“{dialog_for}” will be deleted permanently.", (470, 420, 810, 444))
        t.under(d, "button", "Cancel", (600, 500, 700, 544))
        t.under(d, "button", "OK", (712, 500, 800, 544))
    return t, ids, lst


def _ids(tree, name, role=None):
    return [e["id"] for e in tree.els if e["name"] == name and (role is None or e["role"] == role)]


def test_delete_expert_scrolls_the_list_toward_an_item_out_of_view(server):
    p = make_web_instance("web.delete_file", 0, server).params
    t, ids, lst = _files_page(p)
    a = _act("web.delete_file", p, t)
    assert a.type == "scroll" and a.direction.value == "down" and a.target.id == lst
    t, ids, lst = _files_page(p, target_in_tree=False)  # a controller that drops what is not showing
    a = _act("web.delete_file", p, t)
    assert a.type == "scroll" and a.direction.value == "down"
    index = [f[0] for f in p["files"]].index(p["file"])
    t, ids, lst = _files_page(p, first=index + 1)  # scrolled past it: back up
    a = _act("web.delete_file", p, t)
    assert a.type == "scroll" and a.direction.value == "up" and a.target.id == lst
    t, ids, lst = _files_page(p, first=index - 9)  # its top half in view, its bottom cut off by the list's edge
    t.els[ids[p["file"]]]["bounds"] = Rect(left=32, top=720, right=932, bottom=766)
    a = _act("web.delete_file", p, t)
    assert a.type == "scroll" and a.direction.value == "down"


def test_delete_expert_right_clicks_then_deletes_then_confirms_then_stops(server):
    p = make_web_instance("web.delete_file", 1, server).params
    index = [f[0] for f in p["files"]].index(p["file"])
    t, ids, _ = _files_page(p, first=index - 3)
    a = _act("web.delete_file", p, t)
    assert a.type == "click" and a.button.value == "right" and a.target.id == ids[p["file"]]
    t, ids, _ = _files_page(p, first=index - 3, menu_for=p["file"])
    a = _act("web.delete_file", p, t)
    assert a.type == "click" and a.target.id == _ids(t, "Delete", "menu_item")[0]
    other = p["files"][0][0]
    t, ids, _ = _files_page(p, first=index - 3, menu_for=other)
    assert _act("web.delete_file", p, t) == Key(keys=["escape"])
    t, _, _ = _files_page(p, first=index - 3, dialog_for=p["file"])
    a = _act("web.delete_file", p, t)
    assert a.type == "click" and a.target.id == _ids(t, "OK")[0]
    t, _, _ = _files_page(p, first=index - 3, dialog_for=other)
    a = _act("web.delete_file", p, t)
    assert a.type == "click" and a.target.id == _ids(t, "Cancel")[0]
    t, _, _ = _files_page(p, first=index - 3, status=f"Deleted “{p['file']}”.", target_in_tree=False)
    assert _act("web.delete_file", p, t).type == "done"


def test_question_expert_searches_double_clicks_and_answers_from_the_detail_view(server):
    p = next(q for s in range(20) if (q := make_web_instance("web.file_question", s, server).params)["via"] == "search")
    t, ids, _ = _files_page(p)
    a = _act("web.file_question", p, t)
    assert a.type == "type" and a.text == p["file"] and a.target.id == _ids(t, "Search files")[0] and a.clear
    only = dict(p, files=[f for f in p["files"] if f[0] == p["file"]])
    t, ids, _ = _files_page(only)
    t.els[_ids(t, "Search files")[0]]["value"] = p["file"]
    a = _act("web.file_question", p, t)
    assert a.type == "click" and a.count == 2 and a.target.id == ids[p["file"]]
    # the detail view: a back button, the file's name as a heading, label/value pairs on rows
    t = Tree()
    t.under(t.doc, "button", "Back to files", (32, 220, 220, 264))
    t.under(t.doc, "heading", p["file"], (32, 280, 900, 316))
    f = next(f for f in p["files"] if f[0] == p["file"])
    for k, (label, value) in enumerate(zip(("Type", "Size", "Owner", "Modified"), ("DOCX", f[1], f[2], f[3]))):
        row = t.under(t.doc, "container", "", (32, 330 + 40 * k, 900, 370 + 40 * k))
        t.under(row, "text", label, (32, 338 + 40 * k, 172, 362 + 40 * k))
        t.under(row, "text", value, (188, 338 + 40 * k, 400, 362 + 40 * k))
    a = _act("web.file_question", p, t)
    assert a.type == "answer" and a.text == p["expected"]
    t.els[_ids(t, p["file"], "heading")[0]]["name"] = "someone else.txt"
    a = _act("web.file_question", p, t)
    assert a.type == "click" and a.target.id == _ids(t, "Back to files")[0]


def _settings_page(p, overrides=None, slider_value=None, slider_focused=False):
    t = Tree()
    t.under(t.doc, "heading", "Settings", (32, 160, 1240, 196))
    y = 220
    for label, on in p["switches"]:
        on = (overrides or {}).get(label, on)
        row = t.under(t.doc, "container", "", (53, y, 752, y + 52))
        t.under(row, "text", label, (53, y + 12, 200, y + 38))
        t.under(row, "switch", label, (667, y + 8, 731, y + 42), checked=on)
        y += 52
    for label, on in p["boxes"]:
        on = (overrides or {}).get(label, on)
        t.under(t.doc, "checkbox", label, (53, y + 12, 79, y + 38), checked=on)
        t.under(t.doc, "text", label, (90, y + 12, 400, y + 38))
        y += 52
    value = p["slider"]["value"] if slider_value is None else slider_value
    t.under(t.doc, "text", p["slider"]["label"], (53, 720, 140, 746))
    t.under(t.doc, "slider", p["slider"]["label"], (144, 715, 564, 751), value=f"{value:g}", focused=slider_focused)
    t.under(t.doc, "text", f"{value:g}%", (580, 720, 630, 746))
    return t


def test_toggle_expert_clicks_the_named_control_until_it_shows_the_wish(server):
    for seed in range(6):
        p = make_web_instance("web.settings_toggle", seed, server).params
        t = _settings_page(p)
        a = _act("web.settings_toggle", p, t)
        target = [i for i in _ids(t, p["label"]) if t.els[i]["role"] in ("switch", "checkbox")][0]
        assert a.type == "click" and a.target.id == target
        t = _settings_page(p, overrides={p["label"]: p["on"]})
        assert _act("web.settings_toggle", p, t).type == "done"


def test_slider_expert_drags_near_then_steps_with_keys(server):
    p = make_web_instance("web.settings_slider", 2, server).params
    t = _settings_page(p)
    obs = t.obs()
    a = _act("web.settings_slider", p, obs)
    assert a.type == "drag"
    x0, x1 = a.start.x * (obs.screen.width - 1), a.end.x * (obs.screen.width - 1)
    frac = lambda x: (x - 144) / (564 - 144)  # noqa: E731
    assert abs(frac(x0) * 100 - p["slider"]["value"]) < 5 and abs(frac(x1) * 100 - p["value"]) < 5
    assert (x1 > x0) == (p["value"] > p["slider"]["value"])
    t = _settings_page(p, slider_value=p["value"] - 2, slider_focused=True)
    assert _act("web.settings_slider", p, t) == Key(keys=["right"])
    t = _settings_page(p, slider_value=p["value"] + 1, slider_focused=False)
    assert _act("web.settings_slider", p, t).type == "click"
    t = _settings_page(p, slider_value=p["value"])
    assert _act("web.settings_slider", p, t).type == "done"


def _signup_page(values=None, agree=False, plan="Choose a plan", plans=(), popup=False, focused_plan=False,
                 status="", password_shown=None):
    values = values or {}
    t = Tree()
    t.under(t.doc, "heading", "Create your account", (32, 160, 1240, 196))
    y = 210
    for label in ("Full name", "Email", "Password", "About you"):
        t.under(t.doc, "text", label, (56, y + 10, 200, y + 34))
        value = values.get(label, "")
        if label == "Password":
            value = "•" * len(value) if password_shown is None else password_shown
        t.under(t.doc, "text_field", label, (242, y, 820, y + 42), value=value, editable=True,
                password=label == "Password")
        y += 56
    t.under(t.doc, "text", "Plan", (56, y + 10, 200, y + 34))
    dd = t.under(t.doc, "dropdown", "Plan", (242, y, 820, y + 42), focused=focused_plan)
    menu = t.under(dd, "menu", "", (242, y, 820, y + 20), visible=popup)
    for k, name in enumerate(["Choose a plan", *plans]):
        box = (242, y + 44 + 30 * k, 820, y + 74 + 30 * k) if popup else (242, y, 820, y + 20)
        t.under(menu, "menu_item", name, box, visible=popup or name == plan, selected=name == plan)
    y += 56
    t.under(t.doc, "checkbox", "I agree to the terms", (56, y, 82, y + 26), checked=agree)
    t.under(t.doc, "button", "Submit", (56, y + 40, 180, y + 84))
    if status:
        t.under(t.doc, "text", status, (56, y + 96, 600, y + 120))
    return t


def test_signup_expert_fills_types_the_secret_picks_the_plan_and_submits(server):
    p = make_web_instance("web.signup", 4, server).params
    full = {"Full name": p["name"], "Email": p["email"], "Password": p["password"], "About you": p["about"]}
    a = _act("web.signup", p, _signup_page(plans=p["plans"]))
    assert a.type == "type" and a.text == p["name"] and a.clear and not a.secret
    a = _act("web.signup", p, _signup_page(dict(full, Password=""), plans=p["plans"]))
    assert a.type == "type" and a.text == p["password"] and a.secret
    a = _act("web.signup", p, _signup_page(dict(full, **{"About you": "old"}), plans=p["plans"]))
    assert a.type == "type" and a.text == p["about"]
    t = _signup_page(full, plans=p["plans"])
    a = _act("web.signup", p, t)
    assert a.type == "click" and a.target.id == _ids(t, "Plan", "dropdown")[0]
    t = _signup_page(full, plans=p["plans"], popup=True)
    a = _act("web.signup", p, t)
    assert a.type == "click" and a.target.id == _ids(t, p["plan"], "menu_item")[0]
    t = _signup_page(full, plans=p["plans"], focused_plan=True)
    assert _act("web.signup", p, t) == Key(keys=[p["plan"][0].lower()])
    t = _signup_page(full, plans=p["plans"], plan=p["plan"])
    a = _act("web.signup", p, t)
    assert a.type == "click" and a.target.id == _ids(t, "I agree to the terms")[0]
    t = _signup_page(full, plans=p["plans"], plan=p["plan"], agree=True)
    a = _act("web.signup", p, t)
    assert a.type == "click" and a.target.id == _ids(t, "Submit")[0]
    t = _signup_page(full, plans=p["plans"], plan=p["plan"], agree=True, status=f"Account created for {p['name']}.")
    assert _act("web.signup", p, t).type == "done"
    # a controller that shows no bullets: the history says whether the secret was typed
    t = _signup_page(full, plans=p["plans"], plan=p["plan"], agree=True, password_shown="")
    typed = HistoryEntry(step=3, action={"type": "type", "text": p["password"], "secret": True})
    assert _act("web.signup", p, t, [typed]).type == "click"
    assert _act("web.signup", p, t).type == "type"


def test_experts_ignore_the_browser_chrome(server):
    p = make_web_instance("web.signup", 4, server).params
    full = {"Full name": p["name"], "Email": p["email"], "Password": p["password"], "About you": p["about"]}
    t = _signup_page(full, plans=p["plans"], plan=p["plan"], agree=True)
    t.add("button", "Submit", (1180, 46, 1270, 80), parent=t.toolbar)  # same name, outside the page
    decoy = len(t.els) - 1
    a = _act("web.signup", p, t)
    assert a.type == "click" and a.target.id != decoy and a.target.id == _ids(t, "Submit")[0]


def test_card_expert_drags_onto_the_column_and_stops_once_there(server):
    p = make_web_instance("web.move_card", 2, server).params

    def board(where):
        t = Tree()
        x = 32
        for c in p["columns"]:
            sec = t.under(t.doc, "container", c, (x, 220, x + 300, 700))
            t.under(sec, "heading", c, (x + 12, 228, x + 288, 258))
            lst = t.under(sec, "list", c, (x + 12, 270, x + 288, 690))
            y = 270
            for title, _ in p["cards"]:
                if where[title] == c:
                    li = t.under(lst, "list_item", title, (x + 12, y, x + 288, y + 52))
                    t.under(li, "text", title, (x + 26, y + 12, x + 200, y + 40))
                    y += 62
            x += 320
        return t

    where = {title: p["columns"][i] for title, i in p["cards"]}
    t = board(where)
    a = _act("web.move_card", p, t)
    assert a.type == "drag"
    assert a.start.id == _ids(t, p["card"], "list_item")[0] and a.end.id == _ids(t, p["column"], "heading")[0]
    where[p["card"]] = p["column"]
    assert _act("web.move_card", p, board(where)).type == "done"


def test_note_expert_selects_all_deletes_types_and_saves(server):
    p = make_web_instance("web.replace_note", 1, server).params

    def page(value, focused=True, status="No changes"):
        t = Tree()
        t.under(t.doc, "heading", p["title"], (32, 160, 1240, 196))
        t.under(t.doc, "text", "Note", (32, 210, 100, 234))
        t.under(t.doc, "text_field", "Note", (32, 240, 852, 500), value=value, focused=focused, editable=True)
        t.under(t.doc, "text", status, (32, 540, 400, 564))
        return t

    a = _act("web.replace_note", p, page(p["initial"], focused=False))
    assert a.type == "click"
    assert _act("web.replace_note", p, page(p["initial"])) == Key(keys=["ctrl", "a"])
    select_all = HistoryEntry(step=1, action=Key(keys=["ctrl", "a"]))
    assert _act("web.replace_note", p, page(p["initial"]), [select_all]) == Key(keys=["delete"])
    a = _act("web.replace_note", p, page("", status="Unsaved changes"))
    assert a.type == "type" and a.text == p["text"] and not a.clear
    assert _act("web.replace_note", p, page(p["text"], status="Unsaved changes")) == Key(keys=["ctrl", "s"])
    assert _act("web.replace_note", p, page(p["text"], focused=False, status="Unsaved changes")).type == "click"
    assert _act("web.replace_note", p, page(p["text"], status="All changes saved")).type == "done"


def test_unsubscribe_expert_presses_the_right_row_and_confirms(server):
    p = make_web_instance("web.unsubscribe", 5, server).params

    def page(gone=(), dialog_for=None):
        t = Tree()
        lst = t.under(t.doc, "list", "Subscriptions", (32, 220, 852, 220 + 60 * len(p["subs"])))
        for k, (n, on) in enumerate(p["subs"]):
            on = on and n not in gone
            y = 220 + 60 * k
            li = t.under(lst, "list_item", n, (52, y, 832, y + 60))
            t.under(li, "text", n, (52, y + 18, 400, y + 42))
            t.under(li, "text", "Subscribed" if on else "Unsubscribed", (560, y + 20, 660, y + 40))
            t.under(li, "button", "Unsubscribe" if on else "Subscribe", (680, y + 8, 832, y + 52))
        if dialog_for:
            d = t.under(t.doc, "dialog", "Unsubscribe?", (450, 350, 830, 560))
            t.under(d, "text", f"You will stop receiving “{dialog_for}”.", (470, 420, 810, 444))
            t.under(d, "button", "Cancel", (600, 500, 700, 544))
            t.under(d, "button", "OK", (712, 500, 800, 544))
        return t

    t = page()
    a = _act("web.unsubscribe", p, t)
    row = _ids(t, p["name"], "list_item")[0]
    assert a.type == "click" and t.els[a.target.id]["name"] == "Unsubscribe" and t.els[a.target.id]["parent"] == row
    t = page(dialog_for=p["name"])
    assert _act("web.unsubscribe", p, t).target.id == _ids(t, "OK")[0]
    other = next(n for n, on in p["subs"] if on and n != p["name"])
    t = page(dialog_for=other)
    assert _act("web.unsubscribe", p, t).target.id == _ids(t, "Cancel")[0]
    assert _act("web.unsubscribe", p, page(gone=[p["name"]])).type == "done"


def test_expert_policy_wraps_actions_and_turns_failures_into_errors(server):
    inst = make_web_instance("web.settings_slider", 2, server)
    policy = WebExpertPolicy(inst)
    assert policy.name == "expert"
    policy.reset(inst.goal)
    d = policy.decide(inst.goal, _settings_page(inst.params).obs(), [])
    assert d.error is None and d.action is not None and d.action.type == "drag"
    broken = _settings_page(inst.params)
    slider = _ids(broken, inst.params["label"], "slider")[0]
    broken.els[slider]["value"] = "loud"
    d = policy.decide(inst.goal, broken.obs(), [])
    assert d.action is None and "no number" in d.error
