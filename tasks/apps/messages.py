"""Messages tasks: reply, start a conversation, delete, read and count conversations."""
from __future__ import annotations

from controllers.sim.style import person_name
from tasks.base import TaskTemplate, register

OVERLAYS = ("messages:ctx_menu:", "messages:main_menu", "messages:thread_menu", "messages:delete_dialog:")
TEXTS = ["On my way", "See you at 7", "Running 10 minutes late", "Thanks for dinner!", "지금 출발해요",
         "회의 끝나고 전화할게", "Can we move it to Friday?", "Happy birthday!", "Bonne nuit", "잘 도착했어요",
         "Call me when you're free", "I'll bring the cake", "Merci beaucoup", "¿Nos vemos mañana?"]


def _enter(kit):
    """Bring messages to the front and close overlays the task did not ask for."""
    if not kit.in_app("messages"):
        return kit.goto("messages")
    if any(kit.els(prefix) for prefix in OVERLAYS):
        return kit.back()
    return None


def _pick_thread(rng, device, need_incoming: bool = False):
    app = device.app("messages")
    pool = [t for t in app.threads if t.last_incoming()] if need_incoming else app.threads
    return rng.choice(pool)


def _text_for(rng, *threads) -> str:
    """A message text that none of these threads contains yet (so a new one is recognizable)."""
    used = {m.text for t in threads for m in t.messages}
    return rng.choice([t for t in TEXTS if t not in used])


def _sent(kit, n0: int, text: str) -> bool:
    """Whether the open thread shows an outgoing ``text`` newer than its first ``n0`` messages."""
    for e in kit.els("messages:msg:"):
        parts = kit.key_of(e).split(":")
        if len(parts) == 4 and parts[3] == "out" and int(parts[2]) >= n0:
            body = kit.el(f"messages:msg:{parts[2]}:text")
            if body is not None and body.name == text:
                return True
    return False


def _list_row(kit, tid: str, name: str, use_search: bool = False):
    """On the conversation list: (row, None) once ``tid`` is on screen, else (None, a move toward it)."""
    unread_tab = kit.el("messages:tab:unread")
    if unread_tab is not None and unread_tab.states.selected:
        return None, kit.click("messages:tab:all")
    search = kit.el("messages:search")
    if use_search and search.value != name:
        return None, kit.type(search, name)
    if not use_search and search.value:
        return None, kit.click("messages:search_clear")
    return kit.seek(f"messages:thread:{tid}")


def open_thread(kit, tid: str, name: str, use_search: bool = False):
    """A move toward the open conversation ``tid``; None once it is shown."""
    move = _enter(kit)
    if move is not None:
        return move
    page = kit.page("messages")
    if page == "thread" and kit.has(f"messages:composer:{tid}"):
        return None
    if page != "main":
        return kit.go_back("messages")
    row, move = _list_row(kit, tid, name, use_search)
    return move if row is None else kit.click(row)


def _type_and_send(kit, text: str):
    box = kit.el("messages:input")
    if box.value != text:
        return kit.type(box, text, submit=kit.seed % 4 == 1)  # some episodes press enter to send
    return kit.click("messages:send")


@register
class SendText(TaskTemplate):
    id = "messages.send_text"
    app = "messages"
    steps_hint = 4
    goals = ["Send '{text}' to {name}", "Text {name}: {text}", "{name}에게 \"{text}\"라고 보내줘",
             "Reply to {name} with \"{text}\"", "Message {name} saying {text}"]

    def sample(self, rng, device):
        t = _pick_thread(rng, device)
        return {"tid": t.id, "name": t.name, "n0": len(t.messages), "text": _text_for(rng, t)}

    def is_successful(self, device, params, answer=None):
        t = device.app("messages").thread(params["tid"])
        return t is not None and any(m.out and m.text == params["text"] for m in t.messages[params["n0"]:])

    def act(self, kit, params):
        move = open_thread(kit, params["tid"], params["name"], use_search=kit.seed % 3 == 2)
        if move is not None:
            return move
        if _sent(kit, params["n0"], params["text"]):
            return kit.done()
        return _type_and_send(kit, params["text"])


@register
class NewConversation(TaskTemplate):
    id = "messages.new_conversation"
    app = "messages"
    steps_hint = 5
    goals = ["Start a new conversation with {name} and say '{text}'", "Send a new message to {name}: {text}",
             "{name}에게 새 메시지 보내줘: {text}", "Compose a message to {name} that says \"{text}\""]

    def sample(self, rng, device):
        app = device.app("messages")
        people = [c.name for c in device.app("contacts").sorted_contacts()] if "contacts" in device.apps else []
        people = [n for n in people if app.by_name(n) is None]
        name = rng.choice(people) if people and rng.random() < 0.6 else person_name(rng)
        while app.by_name(name) is not None:
            name = person_name(rng)
        return {"name": name, "text": rng.choice(TEXTS)}

    def is_successful(self, device, params, answer=None):
        t = device.app("messages").by_name(params["name"])
        return t is not None and any(m.out and m.text == params["text"] for m in t.messages)

    def act(self, kit, params):
        move = _enter(kit)
        if move is not None:
            return move
        page = kit.page("messages")
        if page == "compose":
            for key, want in (("messages:to", params["name"]), ("messages:compose_text", params["text"])):
                e, move = kit.seek(key)
                if e is None:
                    return move
                if e.value != want:
                    return kit.type(e, want)
            e, move = kit.seek("messages:compose_send")
            return move or kit.click(e)
        if page == "thread":
            title = kit.el("messages:title")
            if title is not None and title.name == params["name"]:
                if _sent(kit, 0, params["text"]):
                    return kit.done()
                return _type_and_send(kit, params["text"])
            return kit.go_back("messages")
        return kit.click("messages:compose")


@register
class DeleteThread(TaskTemplate):
    id = "messages.delete_thread"
    app = "messages"
    steps_hint = 5
    goals = ["Delete the conversation with {name}", "Remove my chat with {name}", "{name}님과의 대화를 삭제해줘",
             "Get rid of the {name} thread in Messages"]

    def sample(self, rng, device):
        t = _pick_thread(rng, device)
        return {"tid": t.id, "name": t.name, "others": sorted(x.id for x in device.app("messages").threads
                                                              if x.id != t.id)}

    def is_successful(self, device, params, answer=None):
        left = {t.id for t in device.app("messages").threads}
        return params["tid"] not in left and left.issuperset(params["others"])

    def act(self, kit, params):
        tid = params["tid"]
        if kit.in_app("messages"):
            if kit.has(f"messages:delete_dialog:{tid}"):
                return kit.click("messages:delete_ok")
            if kit.has(f"messages:ctx_menu:{tid}"):
                return kit.click("messages:ctx:delete")
            if kit.has("messages:thread_menu") and kit.has(f"messages:composer:{tid}"):
                return kit.click("messages:menu:delete")
        move = _enter(kit)
        if move is not None:
            return move
        page = kit.page("messages")
        if page == "thread" and kit.has(f"messages:composer:{tid}"):
            return kit.click("messages:more")
        if page != "main":
            return kit.go_back("messages")
        # search by name: once the filtered list no longer holds the conversation, it is gone
        unread_tab = kit.el("messages:tab:unread")
        if unread_tab.states.selected:
            return kit.click("messages:tab:all")
        search = kit.el("messages:search")
        if search.value != params["name"]:
            return kit.type(search, params["name"])
        row = kit.el(f"messages:thread:{tid}")
        if row is None:
            return kit.done()
        if kit.seed % 2 == 0:  # long-press the row, or open it and use the overflow menu
            return kit.long_press(row)
        return kit.click(row)


@register
class ReadLast(TaskTemplate):
    id = "messages.read_last"
    app = "messages"
    steps_hint = 2
    goals = ["What was the last message {name} sent me?", "What did {name} last say?",
             "{name}님이 마지막으로 보낸 메시지가 뭐야?", "Read me {name}'s latest message"]

    def sample(self, rng, device):
        t = _pick_thread(rng, device, need_incoming=True)
        last = max(i for i, m in enumerate(t.messages) if not m.out)
        return {"tid": t.id, "name": t.name, "index": last}

    def is_successful(self, device, params, answer=None):
        t = device.app("messages").thread(params["tid"])
        if answer is None or t is None or t.last_incoming() is None:
            return False
        return answer.strip().strip("\"'“”") == t.last_incoming().text

    def act(self, kit, params):
        move = open_thread(kit, params["tid"], params["name"])
        if move is not None:
            return move
        e, move = kit.seek(f"messages:msg:{params['index']}:text")
        return move or kit.answer(e.name)


@register
class MarkAllRead(TaskTemplate):
    id = "messages.mark_all_read"
    app = "messages"
    steps_hint = 3
    goals = ["Mark all my messages as read", "Clear the unread badges in Messages", "메시지 전부 읽음으로 표시해줘",
             "Make every conversation read"]

    def setup(self, device, params):
        app = device.app("messages")
        if not app.unread_threads():
            app.threads[0].unread = 1
            app.threads[-1].unread = 2

    def is_successful(self, device, params, answer=None):
        return not device.app("messages").unread_threads()

    def act(self, kit, params):
        if kit.has("messages:main_menu"):
            return kit.click("messages:menu:read_all")
        move = _enter(kit)
        if move is not None:
            return move
        if kit.page("messages") != "main":
            return kit.go_back("messages")
        if kit.value("messages:tab:unread") == "0":
            return kit.done()
        return kit.click("messages:more")


@register
class CountUnread(TaskTemplate):
    id = "messages.count_unread"
    app = "messages"
    steps_hint = 2
    goals = ["How many unread conversations do I have?", "Count my unread chats", "안 읽은 대화가 몇 개야?",
             "How many conversations are still unread?"]

    def is_successful(self, device, params, answer=None):
        if answer is None:
            return False
        words = {"zero": "0", "none": "0", "no": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                 "없어": "0", "한": "1", "두": "2", "세": "3"}
        text = answer.strip().casefold()
        number = "".join(ch for ch in text if ch.isdigit())
        if not number:  # a worded answer: "two", "none", "두 개"
            number = next((words[w] for w in text.replace(".", " ").split() if w in words), "")
        return number == str(len(device.app("messages").unread_threads()))

    def act(self, kit, params):
        move = _enter(kit)
        if move is not None:
            return move
        if kit.page("messages") != "main":
            return kit.go_back("messages")
        return kit.answer(kit.value("messages:tab:unread"))


@register
class SendToTwo(TaskTemplate):
    id = "messages.send_two"
    app = "messages"
    steps_hint = 9
    goals = ["Send '{text}' to both {a} and {b}", "Text {a} and {b}: {text}", "{a}, {b} 두 사람에게 \"{text}\" 보내줘",
             "Tell {a} and also {b} \"{text}\""]

    def sample(self, rng, device):
        ta, tb = rng.sample(device.app("messages").threads, 2)
        return {"a": ta.name, "b": tb.name, "tids": [ta.id, tb.id], "n0": [len(ta.messages), len(tb.messages)],
                "text": _text_for(rng, ta, tb)}

    def is_successful(self, device, params, answer=None):
        app = device.app("messages")
        for tid, n0 in zip(params["tids"], params["n0"]):
            t = app.thread(tid)
            if t is None or not any(m.out and m.text == params["text"] for m in t.messages[n0:]):
                return False
        return True

    def act(self, kit, params):
        move = _enter(kit)
        if move is not None:
            return move
        text = params["text"]
        page = kit.page("messages")
        seen = kit.memory.setdefault("sent", set())  # threads seen holding the text (a sent message stays sent)
        if page == "thread":
            for tid, n0 in zip(params["tids"], params["n0"]):
                if kit.has(f"messages:composer:{tid}"):
                    if not _sent(kit, n0, text):
                        return _type_and_send(kit, text)
                    seen.add(tid)
            return kit.go_back("messages")
        if page != "main":
            return kit.go_back("messages")
        # the list previews each conversation's last message: "<You>: text" once it was sent
        for tid, name in zip(params["tids"], (params["a"], params["b"])):
            if tid in seen:
                continue
            row, move = _list_row(kit, tid, name)
            if row is None:
                return move
            if not row.description.endswith(f": {text}"):
                return kit.click(row)
        return kit.done()
