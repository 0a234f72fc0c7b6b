"""Contacts tasks: add, edit, delete, favorite, open and look up people."""
from __future__ import annotations

from controllers.sim.apps.contacts import digits
from controllers.sim.style import person_name, phone_number
from tasks.base import TaskTemplate, register

OVERLAYS = ("contacts:ctx_menu:", "contacts:more_menu", "contacts:delete_dialog:")


def _pick(rng, device) -> dict:
    """A random existing contact as task parameters."""
    app = device.app("contacts")
    c = rng.choice(app.sorted_contacts())
    return {"cid": c.id, "name": c.name, "phone": c.phone}


def _new_name(rng, device) -> str:
    taken = {c.name for c in device.app("contacts").contacts.values()}
    while True:
        name = person_name(rng)
        if name not in taken:
            return name


def _enter(kit):
    """Bring contacts to the front and close overlays the task did not ask for."""
    if not kit.in_app("contacts"):
        return kit.goto("contacts")
    if any(kit.els(prefix) for prefix in OVERLAYS):
        return kit.back()
    return None


def _use_search(kit) -> bool:
    return kit.seed % 2 == 0  # half the episodes search, half scroll the list


def _find_in_list(kit, cid: str, name: str, use_search: bool):
    """On the main list: (row, None) once contact ``cid`` is on screen, else (None, a move toward it)."""
    search = kit.el("contacts:search")
    query = search.value.strip().casefold()
    if use_search and search.value != name:
        return None, kit.type(search, name)
    if not use_search and query and query not in name.casefold():
        return None, kit.click("contacts:search_clear")
    return kit.seek(f"contacts:item:{cid}")


def open_contact(kit, cid: str, name: str, use_search: bool):
    """A move toward the detail page of ``cid``; None once it is shown."""
    move = _enter(kit)
    if move is not None:
        return move
    page = kit.page("contacts")
    if page == "detail" and kit.has(f"contacts:card:{cid}"):
        return None
    if page != "main":
        return kit.go_back("contacts")
    row, move = _find_in_list(kit, cid, name, use_search)
    return move if row is None else kit.click(row)


@register
class AddContact(TaskTemplate):
    id = "contacts.add_contact"
    app = "contacts"
    steps_hint = 5
    goals = ["Add a contact named {name} with number {phone}", "Create a new contact: {name}, {phone}",
             "{name} 연락처를 {phone} 번호로 저장해줘", "Save {phone} as {name} in my contacts",
             "새 연락처 추가: 이름 {name}, 전화번호 {phone}"]
    with_email = False

    def sample(self, rng, device):
        p = {"name": _new_name(rng, device), "phone": phone_number(rng), "email": ""}
        if self.with_email:
            handle = rng.choice(["jiwoo", "mina", "alex", "sam.lee", "zoe", "hyun", "noah.k"])
            p["email"] = f"{handle}{rng.randint(1, 99)}@{rng.choice(['gmail.com', 'naver.com', 'work.io'])}"
        return p

    def is_successful(self, device, params, answer=None):
        return any(c.name == params["name"] and digits(c.phone) == digits(params["phone"])
                   and (not params["email"] or c.email == params["email"])
                   for c in device.app("contacts").contacts.values())

    def act(self, kit, params):
        move = _enter(kit)
        if move is not None:
            return move
        page = kit.page("contacts")
        if page == "add":
            for key in ("name", "phone", "email"):
                e, move = kit.seek(f"contacts:{key}")
                if e is None:
                    return move
                if e.value != params[key]:
                    return kit.type(e, params[key])
            e, move = kit.seek("contacts:save")
            return move or kit.click(e)
        if page == "detail":
            card = kit.els("contacts:card:")
            phone = kit.el("contacts:phone_row")
            if card and card[0].name == params["name"] and phone is not None \
                    and digits(phone.description) == digits(params["phone"]):
                return kit.done()
            return kit.go_back("contacts")
        if page != "main":
            return kit.go_back("contacts")
        return kit.click("contacts:add")


@register
class AddContactWithEmail(AddContact):
    id = "contacts.add_contact_email"
    steps_hint = 6
    with_email = True
    goals = ["Add {name} to my contacts with phone {phone} and email {email}",
             "Create a contact for {name}: number {phone}, e-mail {email}",
             "{name} 연락처 추가해줘. 전화 {phone}, 이메일 {email}",
             "New contact {name} ({phone}, {email})"]


@register
class DeleteContact(TaskTemplate):
    id = "contacts.delete_contact"
    app = "contacts"
    steps_hint = 5
    goals = ["Delete {name} from my contacts", "Remove the contact {name}", "{name} 연락처 삭제해줘",
             "Get rid of {name} in the address book"]

    def sample(self, rng, device):
        p = _pick(rng, device)
        p["others"] = sorted(set(device.app("contacts").contacts) - {p["cid"]})
        return p

    def is_successful(self, device, params, answer=None):
        left = device.app("contacts").contacts
        return params["cid"] not in left and all(cid in left for cid in params["others"])

    def act(self, kit, params):
        cid = params["cid"]
        if not kit.in_app("contacts"):
            return kit.goto("contacts")
        if kit.has(f"contacts:delete_dialog:{cid}"):
            return kit.click("contacts:delete_ok")
        if kit.has(f"contacts:ctx_menu:{cid}"):
            return kit.click("contacts:ctx:delete")
        move = _enter(kit)
        if move is not None:
            return move
        page = kit.page("contacts")
        if page == "detail" and kit.has(f"contacts:card:{cid}"):
            e, move = kit.seek("contacts:delete")
            return move or kit.click(e)
        if page != "main":
            return kit.go_back("contacts")
        # search by name: once the filtered list no longer holds the contact, it is gone
        search = kit.el("contacts:search")
        if search.value != params["name"]:
            return kit.type(search, params["name"])
        row = kit.el(f"contacts:item:{cid}")
        if row is None:
            return kit.done()
        if kit.seed % 3 == 1:  # some episodes use the long-press menu
            return kit.long_press(row)
        return kit.click(row)


@register
class Favorite(TaskTemplate):
    id = "contacts.favorite"
    app = "contacts"
    steps_hint = 4
    goals = ["{verb} {name} {prep} favorites", "Make sure {name} {is_fav}", "{name}을(를) 즐겨찾기{ko}",
             "{star} {name}'s contact"]

    def sample(self, rng, device):
        p = _pick(rng, device)
        on = rng.random() < 0.6
        p.update(on=on, verb="Add" if on else "Remove", prep="to" if on else "from",
                 is_fav="is a favorite" if on else "is not a favorite", ko="에 추가해줘" if on else "에서 빼줘",
                 star="Star" if on else "Unstar")
        return p

    def setup(self, device, params):
        device.app("contacts").contacts[params["cid"]].favorite = not params["on"]

    def is_successful(self, device, params, answer=None):
        c = device.app("contacts").contacts.get(params["cid"])
        return c is not None and c.favorite == params["on"]

    def act(self, kit, params):
        move = open_contact(kit, params["cid"], params["name"], _use_search(kit))
        if move is not None:
            return move
        e, move = kit.seek("contacts:favorite")
        if e is None:
            return move
        return kit.click(e) if bool(e.states.checked) != params["on"] else kit.done()


@register
class EditPhone(TaskTemplate):
    id = "contacts.edit_phone"
    app = "contacts"
    steps_hint = 6
    goals = ["Change {name}'s phone number to {new}", "Update the number for {name}: {new}",
             "{name} 전화번호를 {new}(으)로 바꿔줘", "{name} got a new number, {new}. Update the contact."]

    def sample(self, rng, device):
        p = _pick(rng, device)
        p["new"] = phone_number(rng)
        return p

    def is_successful(self, device, params, answer=None):
        c = device.app("contacts").contacts.get(params["cid"])
        return c is not None and c.name == params["name"] and digits(c.phone) == digits(params["new"])

    def act(self, kit, params):
        cid = params["cid"]
        if kit.page("contacts") == "edit" and not any(kit.els(p) for p in OVERLAYS):
            if not kit.has(f"contacts:avatar:{cid}"):
                return kit.go_back("contacts")
            for key, want in (("contacts:name", params["name"]), ("contacts:phone", params["new"])):
                e, move = kit.seek(key)
                if e is None:
                    return move
                if e.value != want:
                    return kit.type(e, want)
            e, move = kit.seek("contacts:save")
            return move or kit.click(e)
        move = open_contact(kit, cid, params["name"], _use_search(kit))
        if move is not None:
            return move
        phone = kit.el("contacts:phone_row")
        if phone is not None and digits(phone.description) == digits(params["new"]):
            return kit.done()
        return kit.click("contacts:edit")


@register
class ReadPhone(TaskTemplate):
    id = "contacts.read_phone"
    app = "contacts"
    steps_hint = 2
    goals = ["What is {name}'s phone number?", "Look up the number of {name}", "{name} 전화번호 알려줘",
             "Tell me {name}'s mobile number"]

    def sample(self, rng, device):
        return _pick(rng, device)

    def is_successful(self, device, params, answer=None):
        c = device.app("contacts").contacts.get(params["cid"])
        return answer is not None and c is not None and digits(answer) == digits(c.phone) != ""

    def act(self, kit, params):
        cid = params["cid"]
        if kit.page("contacts") == "detail" and kit.has(f"contacts:card:{cid}"):
            return kit.answer(kit.el("contacts:phone_row").description)
        move = _enter(kit)
        if move is not None:
            return move
        if kit.page("contacts") != "main":
            return kit.go_back("contacts")
        row, move = _find_in_list(kit, cid, params["name"], _use_search(kit))
        return move if row is None else kit.answer(row.description)  # the list shows each number


@register
class OpenContact(TaskTemplate):
    id = "contacts.open_contact"
    app = "contacts"
    steps_hint = 3
    goals = ["Open {name}'s contact card", "Show me the contact details of {name}", "{name} 연락처 열어줘",
             "Find {name} in Contacts and open it"]

    def sample(self, rng, device):
        return _pick(rng, device)

    def is_successful(self, device, params, answer=None):
        app = device.app("contacts")
        return device.foreground == "contacts" and app.page == "detail" and app.current == params["cid"] \
            and not app.dialog and not app.menu

    def act(self, kit, params):
        move = open_contact(kit, params["cid"], params["name"], _use_search(kit))
        return move or kit.done()
