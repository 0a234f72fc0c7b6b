"""Web form tasks: fill and submit, fix a rejected form, pick from a long dropdown and autocomplete,
choose radios/checkboxes in a long list, and read a value back.

One reactive expert (``fill``) serves every template: it fixes what the current tab shows,
moves on tab by tab, verifies everything on the Review tab, and submits when asked.
"""
from __future__ import annotations

from controllers.sim.apps.webform import CITY_LIST, CONTACT_OPTIONS, COUNTRY_KO, COUNTRY_LIST, INTERESTS, slug, \
    suggestions
from controllers.sim.style import person_name
from tasks.base import TaskTemplate, register

TAB_OF = {"name": "main", "email": "main", "phone": "main", "city": "main", "country": "main",
          "contact": "prefs", "newsletter": "prefs", "interests": "prefs", "agree": "review"}
ORDER = ["main", "prefs", "review"]
EMAIL_USERS = ["jamie", "minjun.kim", "zoe.m", "hana22", "l.garcia", "okafor", "seoyeon", "bjorn", "priya.s"]
EMAIL_HOSTS = ["example.com", "mail.kr", "posteo.de", "handa.dev"]


def _email(rng) -> str:
    return f"{rng.choice(EMAIL_USERS)}{rng.randint(1, 99)}@{rng.choice(EMAIL_HOSTS)}"


# ---------------------------------------------------------------- the expert
def _go_tab(kit, tab: str):
    e, move = kit.seek(f"webform:tab:{tab}")
    return move or kit.click(e)


def _key(field: str, value) -> str:
    """The element that shows ``field``: for the interests list, its sticky summary footer."""
    return {"contact": f"webform:contact:{value}", "interests": "webform:interests_selected"}.get(
        field, f"webform:{field}")


def _shown(kit, key: str):
    """The element if it is fully inside its scrolling body (what ``seek`` would accept), else None."""
    e = kit.el(key)
    if e is None:
        return None
    body = kit._scroll_parent(e)
    inside = body is None or (e.bounds.top >= body.bounds.top and e.bounds.bottom <= body.bounds.bottom
                              and e.bounds.height >= 8)
    return e if inside else None


def _fix(kit, field: str, value, e):
    """A move that brings ``field`` (shown as ``e``) to ``value``, or None when it already is."""
    if field in ("name", "email", "phone"):
        return kit.type(e, value) if e.value != value else None
    if field == "city":
        if e.value == value:
            return None
        return kit.type(e, value)  # then pick it from the suggestions
    if field == "country":
        return kit.click(e) if e.value != value else None
    if field == "contact":
        return kit.click(e) if not e.states.checked else None
    if field in ("newsletter", "agree"):
        return kit.click(e) if bool(e.states.checked) != value else None
    if field == "interests":
        selected = {n for n in e.value.split(", ") if n}
        wrong = [n for n in INTERESTS if (n in value) != (n in selected)]
        for n in wrong:  # what is on screen first, then scroll to the rest
            item = _shown(kit, f"webform:interest:{slug(n)}")
            if item is not None:
                return kit.click(item)
        if wrong:
            item, move = kit.seek(f"webform:interest:{slug(wrong[0])}")
            return move or kit.click(item)
        return None
    raise KeyError(field)


def _review_move(kit, field: str, value, verified: set):
    """On the Review tab: a move if ``field`` is wrong (go to its tab) or off screen, else None."""
    e, move = kit.seek(f"webform:review:{field}")
    if e is None:
        return move
    if field == "contact":
        ok = e.value in CONTACT_OPTIONS[value]
    elif field == "interests":
        ok = {n for n in e.value.split(", ") if n and n != "—"} == set(value)
    elif field == "newsletter":
        ok = bool(e.states.checked) == value
    else:
        ok = e.value == (value or "—")
    if ok:
        return None
    verified.discard(field)
    return _go_tab(kit, TAB_OF[field])


def _done_ok(kit, want: dict) -> bool:
    for field in ("name", "email", "city", "country"):
        if field in want:
            e = kit.el(f"webform:done:{field}")
            if e is None or e.value != want[field]:
                return False
    e = kit.el("webform:done:newsletter")
    return "newsletter" not in want or (e is not None and bool(e.states.checked) == want["newsletter"])


def fill(kit, want: dict, submit: bool = False):
    """Bring the form to ``want`` (field -> value), submitting it if asked; reactive from any screen.

    A tab's fields can be far apart (radios on top, a long list below), so the expert
    remembers which fields it has seen right (``kit.memory``) instead of scrolling back
    and forth; the Review tab re-checks everything and forgets any field it finds wrong.
    """
    verified: set = kit.memory.setdefault("webform_ok", set())
    if not kit.in_app("webform"):
        return kit.goto("webform")
    page = kit.page("webform")
    if kit.has("webform:error_ok"):
        return kit.click("webform:error_ok")
    if kit.has("webform:confirm_ok"):
        return kit.click("webform:confirm_ok" if submit else "webform:confirm_cancel")
    if page == "country":
        if "country" not in want:
            return kit.back()
        country = want["country"]
        key = f"webform:country_opt:{slug(country)}"
        e = _shown(kit, key)
        if e is not None:
            return kit.click(e)
        filt = kit.el("webform:country_filter")
        typed = filt.value.casefold() if filt is not None else ""
        near = COUNTRY_LIST.index(country) < 14  # the list is alphabetical: near the top, just scroll
        # the filter takes the name as the goal spells it; a goal in another language just scrolls
        if filt is not None and country in kit.memory.get("goal", "") and (typed not in country.casefold() or (not typed and (kit.seed % 2 == 0 or not near))):
            return kit.type(filt, country)  # narrow the list
        e, move = kit.seek(key)
        return move or kit.click(e)
    if kit.has("webform:suggest"):
        key = f"webform:suggest:{slug(want['city'])}" if "city" in want else ""
        return kit.click(key) if kit.has(key) else kit.back()
    if page == "done":
        if submit and _done_ok(kit, want):
            return kit.done()
        if not submit:
            return kit.go_back("webform")  # the filled form is still behind the thank-you page
        e, move = kit.seek("webform:again")
        return move or kit.click(e)
    fields = [f for f in want if TAB_OF[f] == page]
    for field in fields:  # fix what is on screen
        e = _shown(kit, _key(field, want[field]))
        if e is not None:
            move = _fix(kit, field, want[field], e)
            if move:
                verified.discard(field)
                return move
            verified.add(field)
    for field in fields:  # then scroll to what has not been seen right yet
        if field not in verified:
            e, move = kit.seek(_key(field, want[field]))
            if move:
                return move
    tabs = {TAB_OF[f] for f in want}
    if page == "review":
        for field, value in want.items():
            if TAB_OF[field] != "review":
                move = _review_move(kit, field, value, verified)
                if move:
                    return move
        if not submit:
            return kit.done()
        e, move = kit.seek("webform:submit")
        return move or kit.click(e)
    if not submit and tabs == {page}:
        return kit.done()
    nxt = next(t for t in ORDER[ORDER.index(page) + 1:] if t in tabs or t == "review")
    return _go_tab(kit, nxt)


def _form(device):
    return device.app("webform")


def _country_params(rng) -> dict:
    c = rng.choice(COUNTRY_LIST)
    return {"country": c, "country_ko": COUNTRY_KO.get(c, c)}


# ---------------------------------------------------------------- templates
@register
class SignUp(TaskTemplate):
    id = "webform.signup"
    app = "webform"
    steps_hint = 11
    goals = ["Fill in the sign-up form with name {name}, email {email} and country {country}, accept the terms and "
             "submit it", "Sign up on the form as {name} ({email}) from {country} and submit",
             "양식에 이름 {name}, 이메일 {email}, 국가 {country_ko}을(를) 입력하고 약관에 동의한 뒤 제출해줘"]

    def sample(self, rng, device):
        return {"name": person_name(rng), "email": _email(rng), **_country_params(rng)}

    def want(self, params) -> dict:
        return {"name": params["name"], "email": params["email"], "country": params["country"], "agree": True}

    def is_successful(self, device, params, answer=None):
        sub = _form(device).submitted
        return sub is not None and all(sub[k] == v for k, v in self.want(params).items())

    def act(self, kit, params):
        return fill(kit, self.want(params), submit=True)


@register
class Register(SignUp):
    id = "webform.register"
    steps_hint = 13
    goals = ["Register on the form: name {name}, email {email}, country {country}; subscribe to the newsletter, agree "
             "to the terms and submit",
             "Submit the form for {name} <{email}> from {country}, with the newsletter turned on",
             "{name}(으)로 양식을 작성해줘: 이메일 {email}, 국가 {country_ko}, 뉴스레터 구독, 약관 동의 후 제출"]

    def want(self, params) -> dict:
        return {"name": params["name"], "email": params["email"], "country": params["country"], "newsletter": True,
                "agree": True}


@register
class FixAndSubmit(TaskTemplate):
    id = "webform.fix_submit"
    app = "webform"
    steps_hint = 6
    goals = ["The form was rejected because the email is missing. Enter {email} and submit it again",
             "Finish the sign-up form: add the email {email} and submit", "이메일 {email} 입력해서 양식 제출 마저 해줘"]

    def sample(self, rng, device):
        return {"name": person_name(rng), "email": _email(rng), **_country_params(rng)}

    def setup(self, device, params):
        app = _form(device)
        app.name, app.country, app.agree, app.email = params["name"], params["country"], True, ""

    def is_successful(self, device, params, answer=None):
        sub = _form(device).submitted
        return sub is not None and sub["email"] == params["email"] and sub["name"] == params["name"] \
            and sub["country"] == params["country"]

    def act(self, kit, params):
        # the other answers were already right: keep (or restore) them as set up
        return fill(kit, {"name": params["name"], "email": params["email"], "country": params["country"],
                          "agree": True}, submit=True)


@register
class PickCountry(TaskTemplate):
    id = "webform.country"
    app = "webform"
    steps_hint = 5
    goals = ["Set the country in the form to {country}", "Choose {country} from the country list",
             "양식에서 국가를 {country_ko}(으)로 선택해줘", "Select {country} as the country"]

    def sample(self, rng, device):
        return _country_params(rng)

    def setup(self, device, params):
        if _form(device).country == params["country"]:
            _form(device).country = ""

    def is_successful(self, device, params, answer=None):
        return _form(device).country == params["country"]

    def act(self, kit, params):
        return fill(kit, {"country": params["country"]})


@register
class PickCity(TaskTemplate):
    id = "webform.city"
    app = "webform"
    steps_hint = 4
    goals = ["Enter {city} as the city (pick it from the suggestions)", "Set the city field to {city}",
             "도시에 {city} 입력해줘 (자동완성에서 골라줘)"]

    def sample(self, rng, device):
        return {"city": rng.choice(CITY_LIST)}

    def is_successful(self, device, params, answer=None):
        return _form(device).city == params["city"]

    def act(self, kit, params):
        return fill(kit, {"city": params["city"]})


@register
class Preferences(TaskTemplate):
    id = "webform.preferences"
    app = "webform"
    steps_hint = 9
    goals = ["In the form's preferences, choose \"{contact_label}\" as the contact method and select the interests "
             "{a} and {b} (nothing else)",
             "Set contact preference to {contact_label} and tick only {a} and {b} under interests",
             "양식 선호 탭에서 연락 방법을 '{contact_label}'(으)로 하고 관심사는 {a}, {b}만 선택해줘"]

    def sample(self, rng, device):
        contact = rng.choice([c for c in CONTACT_OPTIONS if c != "email"])
        a, b = rng.sample(INTERESTS, 2)
        return {"contact": contact, "contact_label": CONTACT_OPTIONS[contact][rng.randrange(2)], "a": a, "b": b}

    def is_successful(self, device, params, answer=None):
        app = _form(device)
        return app.contact == params["contact"] and app.interests == {params["a"], params["b"]}

    def act(self, kit, params):
        return fill(kit, {"contact": params["contact"], "interests": {params["a"], params["b"]}})


@register
class Newsletter(TaskTemplate):
    id = "webform.newsletter"
    app = "webform"
    steps_hint = 4
    goals = ["{verb} the newsletter in the form", "Make sure the form's newsletter box is {state}",
             "양식에서 뉴스레터 {verb_ko}"]

    def sample(self, rng, device):
        on = rng.random() < 0.6
        return {"on": on, "verb": "Subscribe to" if on else "Unsubscribe from", "state": "ticked" if on else "unticked",
                "verb_ko": "구독 체크해줘" if on else "구독 해제해줘"}

    def setup(self, device, params):
        _form(device).newsletter = not params["on"]

    def is_successful(self, device, params, answer=None):
        return _form(device).newsletter == params["on"]

    def act(self, kit, params):
        return fill(kit, {"newsletter": params["on"]})


@register
class ReadCountry(TaskTemplate):
    id = "webform.read_country"
    app = "webform"
    steps_hint = 2
    goals = ["Which country is selected in the sign-up form?", "What country does the form say?",
             "양식에 선택된 국가가 어디야?"]

    def sample(self, rng, device):
        return _country_params(rng)

    def setup(self, device, params):
        _form(device).country = params["country"]

    def is_successful(self, device, params, answer=None):
        c = _form(device).country
        return answer is not None and answer.strip().casefold() in (c.casefold(), COUNTRY_KO.get(c, c))

    def act(self, kit, params):
        if kit.in_app("webform") and kit.page("webform") == "main" and not kit.has("webform:suggest"):
            e, move = kit.seek("webform:country")
            return move or kit.answer(e.value)
        if kit.in_app("webform") and kit.page("webform") == "review":
            e, move = kit.seek("webform:review:country")
            return move or kit.answer(e.value)
        if kit.in_app("webform") and kit.page("webform") in ("prefs", "done"):
            return _go_tab(kit, "main") if kit.page("webform") == "prefs" else kit.go_back("webform")
        return fill(kit, {})
