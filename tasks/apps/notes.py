"""Notes tasks: create (single and multi-line), rename, append, pin, delete, search, and read a fact."""
from __future__ import annotations

from controllers.sim.apps.notes import FACTS
from tasks.base import TaskTemplate, register

NEW_TITLES = ["회의", "Dentist", "Weekend plans", "Pho recipe", "Ideas for Zoë", "운동 계획", "Car service", "Café tips",
              "Reading list", "생일 선물", "Book club", "Moving day", "Tax documents", "Piano practice", "주말 여행"]
NEW_BODIES = ["Call 민준 at 3pm", "Bring the passport", "Meeting at 3pm", "내일 10시까지 제출", "Buy oat milk",
              "Budget: 120,000원", "Ask about the naïve plan", "See you soon", "Room 402, second floor",
              "점심 먹고 산책하기", "Pick up Zoë at 5", "Renew the résumé"]
ITEMS = ["milk", "eggs", "bread", "apples", "우유", "계란", "두부", "rice", "coffee", "tea", "butter", "김치",
         "bananas", "cheese", "noodles"]
NEW_LINES = ["Call back tomorrow", "확인 완료", "Don't forget the charger", "Done ✔", "Add more later",
             "Bring 2 copies", "우산 챙기기", "Ask Björn"]


# ---------------------------------------------------------------- shared expert moves
def _leave(kit):
    """Back out of the current screen (confirming that unsaved edits may go)."""
    if kit.has("notes:discard_ok"):
        return kit.click("notes:discard_ok")
    return kit.go_back("notes")


def _overlays(kit):
    """Close menus and dialogs the expert did not ask for."""
    if kit.has("notes:menu"):
        return kit.back()
    if kit.has("notes:confirm_cancel"):
        return kit.click("notes:confirm_cancel")
    if kit.has("notes:discard_ok"):
        return kit.click("notes:discard_ok")
    return None


def _to_list(kit):
    """None once on the note list with nothing on top of it."""
    if not kit.in_app("notes"):
        return kit.goto("notes")
    move = _overlays(kit)
    if move:
        return move
    if kit.page("notes") != "main":
        return _leave(kit)
    return None


def _open_note(kit, nid: int, titles: tuple[str, ...], body: str):
    """None once the editor of note ``nid`` is open; else the next move toward it.

    ``titles`` are the names the note may have (before/after a rename), for judging a search filter.
    """
    if kit.in_app("notes") and kit.page("notes") == f"note/{nid}":
        if kit.has("notes:discard_keep"):
            return kit.click("notes:discard_keep")
        return None
    move = _to_list(kit)
    if move:
        return move
    field = kit.el("notes:search_field")
    if field is not None and field.value.strip():
        q = field.value.strip().casefold()
        if all(q not in t.casefold() for t in titles) and q not in body.casefold():
            return kit.click("notes:search_close")  # the filter hides the note
    e, move = kit.seek(f"notes:item:{nid}")
    return move or kit.click(e)


def _save_editor(kit, title: str, body: str):
    """In an editor: fill title and body, then save; done when saved (save disabled = no changes)."""
    t = kit.el("notes:title_field")
    if t is not None and t.value != title:
        return kit.type(t, title)
    b, move = kit.seek("notes:body_field")
    if b is None:
        return move
    if b.value != body:
        return kit.type(b, body)
    s, move = kit.seek("notes:save")
    if s is None:
        return move
    return kit.click(s) if s.states.enabled else kit.done()


def _pick_note(rng, device, pinned=None):
    app = device.app("notes")
    notes = [n for n in app.notes if pinned is None or n.pinned == pinned] or app.notes
    n = rng.choice(notes)
    return n


def _create(kit, title: str, body: str, pin: bool = False):
    """Create a note (and optionally pin it); reactive from any screen."""
    if kit.in_app("notes") and kit.page("notes") == "new":
        if kit.has("notes:discard_keep"):
            return kit.click("notes:discard_keep")
        pin_el = kit.el("notes:pin")
        if pin and pin_el is not None and not pin_el.states.selected:
            return kit.click(pin_el)
        return _save_editor(kit, title, body)
    page = kit.page("notes") if kit.in_app("notes") else None
    if page and page.startswith("note/"):
        t = kit.el("notes:title_field")
        if t is not None and t.value == title:  # our note, already saved: finish it here
            pin_el = kit.el("notes:pin")
            if pin and not pin_el.states.selected:
                return kit.click(pin_el)
            return _save_editor(kit, title, body)
    move = _to_list(kit)
    if move:
        return move
    first = body.split("\n", 1)[0][:40]
    for e in kit.els("notes:item:"):
        if e.name == title and e.description == first:
            if pin and not e.value.startswith("★"):
                return kit.click(e)
            return kit.done()
    return kit.click("notes:add")


# ---------------------------------------------------------------- templates
@register
class CreateNote(TaskTemplate):
    id = "notes.create"
    app = "notes"
    steps_hint = 6
    goals = ["Create a note titled \"{title}\" that says \"{body}\"", "Add a new note: title {title}, text {body}",
             "'{title}' 제목으로 메모를 만들고 내용에 '{body}'라고 적어줘",
             "Write a note called {title} with the text: {body}"]

    def sample(self, rng, device):
        taken = {n.title for n in device.app("notes").notes}
        return {"title": rng.choice([t for t in NEW_TITLES if t not in taken]), "body": rng.choice(NEW_BODIES)}

    def is_successful(self, device, params, answer=None):
        return any(n.body.strip() == params["body"] for n in device.app("notes").by_title(params["title"]))

    def act(self, kit, params):
        return _create(kit, params["title"], params["body"])


@register
class Checklist(TaskTemplate):
    id = "notes.checklist"
    app = "notes"
    steps_hint = 6
    goals = ["Make a note titled \"{title}\" listing {items_text}, one item per line",
             "Create a list note \"{title}\" with these lines: {items_text}",
             "'{title}' 메모를 만들어서 {items_text} 를 한 줄에 하나씩 적어줘"]

    def sample(self, rng, device):
        taken = {n.title for n in device.app("notes").notes}
        items = rng.sample(ITEMS, rng.randint(3, 4))
        title = rng.choice(["장보기", "Groceries", "Shopping list", "마트", "Market run"])
        if title in taken:
            title += " 2"
        return {"title": title, "items": items, "items_text": ", ".join(items)}

    def is_successful(self, device, params, answer=None):
        for n in device.app("notes").by_title(params["title"]):
            if [line.strip() for line in n.body.split("\n") if line.strip()] == params["items"]:
                return True
        return False

    def act(self, kit, params):
        return _create(kit, params["title"], "\n".join(params["items"]))


@register
class CreatePinned(TaskTemplate):
    id = "notes.create_pinned"
    app = "notes"
    steps_hint = 7
    goals = ["Create a note \"{title}\" saying \"{body}\" and pin it to the top",
             "Add a pinned note titled {title} with the text {body}",
             "'{title}' 메모를 '{body}' 내용으로 만들고 상단에 고정해줘"]

    def sample(self, rng, device):
        return CreateNote.sample(self, rng, device)

    def is_successful(self, device, params, answer=None):
        return any(n.body.strip() == params["body"] and n.pinned
                   for n in device.app("notes").by_title(params["title"]))

    def act(self, kit, params):
        return _create(kit, params["title"], params["body"], pin=True)


@register
class DeleteNote(TaskTemplate):
    id = "notes.delete"
    app = "notes"
    steps_hint = 7
    goals = ["Delete the note \"{title}\"", "Remove my {title} note", "'{title}' 메모 삭제해줘",
             "Throw away the note called {title}"]

    def sample(self, rng, device):
        n = _pick_note(rng, device)
        return {"id": n.id, "title": n.title, "count": len(device.app("notes").notes)}

    def is_successful(self, device, params, answer=None):
        app = device.app("notes")
        return app.note(params["id"]) is None and len(app.notes) == params["count"] - 1

    def act(self, kit, params):
        nid, title = params["id"], params["title"]
        if kit.in_app("notes"):
            if kit.has("notes:confirm_delete"):
                # in the target's editor the dialog is about it; on the list, judge by the title it names
                msg = kit.el("notes:confirm:message")
                ok = kit.page("notes") == f"note/{nid}" or (msg is not None and msg.name == title)
                return kit.click("notes:confirm_delete" if ok else "notes:confirm_cancel")
            if kit.page("notes") == f"note/{nid}":
                return kit.click("notes:delete")
        move = _to_list(kit)
        if move:
            return move
        # search for the title: a reliable way to see whether the note is still there
        field = kit.el("notes:search_field")
        if field is None:
            if kit.has("notes:search"):
                return kit.click("notes:search")
            e, move = kit.seek("notes:search_field")
            return move
        if field.value != title:
            return kit.type(field, title)
        item = kit.el(f"notes:item:{nid}")
        return kit.click(item) if item is not None else kit.done()


@register
class PinNote(TaskTemplate):
    id = "notes.pin"
    app = "notes"
    steps_hint = 4
    goals = ["{verb} the note \"{title}\"", "{verb} my {title} note", "'{title}' 메모를 {verb_ko}",
             "Make sure the note {title} is {state}"]

    def sample(self, rng, device):
        pin = rng.random() < 0.7
        n = _pick_note(rng, device, pinned=not pin)
        return {"id": n.id, "title": n.title, "body": n.body, "pin": pin, "verb": "Pin" if pin else "Unpin",
                "verb_ko": "상단에 고정해줘" if pin else "고정 해제해줘", "state": "pinned" if pin else "not pinned"}

    def setup(self, device, params):
        device.app("notes").note(params["id"]).pinned = not params["pin"]

    def is_successful(self, device, params, answer=None):
        n = device.app("notes").note(params["id"])
        return n is not None and n.pinned == params["pin"]

    def act(self, kit, params):
        move = _open_note(kit, params["id"], (params["title"],), params["body"])
        if move:
            return move
        pin = kit.el("notes:pin")
        return kit.click(pin) if bool(pin.states.selected) != params["pin"] else kit.done()


@register
class RenameNote(TaskTemplate):
    id = "notes.rename"
    app = "notes"
    steps_hint = 5
    goals = ["Rename the note \"{old}\" to \"{new}\"", "Change the title of my {old} note to {new}",
             "'{old}' 메모 제목을 '{new}'(으)로 바꿔줘"]

    def sample(self, rng, device):
        n = _pick_note(rng, device)
        taken = {m.title for m in device.app("notes").notes}
        return {"id": n.id, "old": n.title, "body": n.body,
                "new": rng.choice([t for t in NEW_TITLES if t not in taken])}

    def is_successful(self, device, params, answer=None):
        n = device.app("notes").note(params["id"])
        return n is not None and n.title == params["new"] and n.body == params["body"]

    def act(self, kit, params):
        nid = params["id"]
        if kit.in_app("notes") and kit.page("notes") == f"note/{nid}" and not kit.has("notes:discard_ok"):
            return _save_editor(kit, params["new"], params["body"])
        if kit.in_app("notes") and kit.page("notes") == "main" and not kit.has("notes:menu"):
            e = kit.el(f"notes:item:{nid}")
            if e is not None and e.name == params["new"]:
                return kit.done()
        move = _open_note(kit, nid, (params["old"], params["new"]), params["body"])
        return move or _save_editor(kit, params["new"], params["body"])


@register
class AppendLine(TaskTemplate):
    id = "notes.append"
    app = "notes"
    steps_hint = 5
    goals = ["Add the line \"{line}\" to the end of the note \"{title}\"",
             "In my {title} note, append a new line: {line}", "'{title}' 메모 끝에 '{line}' 한 줄 추가해줘"]

    def sample(self, rng, device):
        n = _pick_note(rng, device)
        return {"id": n.id, "title": n.title, "body": n.body, "line": rng.choice(NEW_LINES)}

    def is_successful(self, device, params, answer=None):
        n = device.app("notes").note(params["id"])
        return n is not None and n.body.rstrip() == params["body"].rstrip() + "\n" + params["line"]

    def act(self, kit, params):
        target = params["body"].rstrip() + "\n" + params["line"]
        move = _open_note(kit, params["id"], (params["title"],), params["body"])
        if move:
            return move
        body = kit.el("notes:body_field")
        if body is not None and body.value == params["body"] and not params["body"].endswith("\n"):
            body, move = kit.seek("notes:body_field")
            return move or kit.type(body, "\n" + params["line"], clear=False)  # append, keep what is there
        title = kit.value("notes:title_field")
        return _save_editor(kit, title if title is not None else params["title"], target)


@register
class SearchNotes(TaskTemplate):
    id = "notes.search"
    app = "notes"
    steps_hint = 4
    goals = ["Search my notes for \"{word}\"", "Find notes mentioning {word}", "메모에서 '{word}' 검색해줘"]

    def sample(self, rng, device):
        return {"word": rng.choice(["budget", "Tokyo", "우유", "Café", "password", "tomatoes", "여권", "Dune"])}

    def is_successful(self, device, params, answer=None):
        app = device.app("notes")
        return app.searching and app.query.strip().casefold() == params["word"].casefold()

    def act(self, kit, params):
        move = _to_list(kit)
        if move:
            return move
        field = kit.el("notes:search_field")
        if field is None:
            if kit.has("notes:search"):
                return kit.click("notes:search")
            e, move = kit.seek("notes:search_field")
            return move
        if field.value.strip().casefold() != params["word"].casefold():
            return kit.type(field, params["word"])
        return kit.done()


@register
class ReadFact(TaskTemplate):
    id = "notes.read_fact"
    app = "notes"
    steps_hint = 2
    goals = ["What is my {label} saved in Notes?", "Check my notes: what's the {label}?",
             "메모에 적어 둔 {label_ko} 알려줘", "Look up the {label} in my notes and tell me"]

    def sample(self, rng, device):
        app = device.app("notes")
        kind = rng.choice(sorted(app.facts))
        _, title, label = next(f for f in FACTS if f[0] == kind)
        n = next(n for n in app.notes if n.body.startswith(label + ":"))
        ko = {"wifi": "와이파이 비밀번호", "locker": "사물함 번호", "parking": "주차 위치", "door": "현관 비밀번호",
              "flight": "항공편 번호"}[kind]
        return {"kind": kind, "id": n.id, "title": n.title, "body": n.body, "label": label.lower(), "label_ko": ko}

    def is_successful(self, device, params, answer=None):
        truth = device.app("notes").facts[params["kind"]]
        return answer is not None and answer.strip().casefold() == truth.casefold()

    def act(self, kit, params):
        if kit.has("notes:discard_ok"):
            return kit.click("notes:discard_ok")  # a reader never keeps edits
        move = _open_note(kit, params["id"], (params["title"],), params["body"])
        if move:
            return move
        save = kit.el("notes:save")
        if save is not None and save.states.enabled:
            return _leave(kit)  # the field shows unsaved edits, not what the note says
        first = (kit.value("notes:body_field") or "").split("\n", 1)[0]
        return kit.answer(first.split(":", 1)[-1].strip())  # an edited note without the label: say what it says
