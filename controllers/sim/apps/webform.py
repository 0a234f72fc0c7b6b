"""Web form: a sign-up survey with tabs, a scrolling country dropdown, city autocomplete,
radios, checkboxes, a long interests list, validation and submit-confirmation dialogs.

Each tab is a page (``main`` = profile, ``prefs``, ``review``) so every tab keeps its
own scroll. The country dropdown opens a long menu that scrolls on its own: while it
is open the app sits on page ``country`` whose scroll offset moves the menu, not the
form underneath (the toolkit's ``Page.menu`` cannot scroll and drops what does not fit).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

from controllers.elements import Role
from controllers.sim.apps.base import App
from controllers.sim.style import COUNTRIES
from controllers.sim.ui import Node, Page

COUNTRY_LIST = sorted(set(COUNTRIES) | {
    "Argentina", "Austria", "Belgium", "China", "Denmark", "Finland", "Greece", "Indonesia", "Ireland", "Italy",
    "Morocco", "Netherlands", "New Zealand", "Philippines", "Poland", "Portugal", "Sweden", "Switzerland",
    "Thailand", "Turkey", "United Kingdom", "United States", "Colombia", "Ghana", "Malaysia", "Singapore"})
COUNTRY_KO = {
    "South Korea": "대한민국", "Japan": "일본", "France": "프랑스", "Germany": "독일", "Canada": "캐나다",
    "Australia": "호주", "Brazil": "브라질", "India": "인도", "Mexico": "멕시코", "Spain": "스페인", "Vietnam": "베트남",
    "Norway": "노르웨이", "Egypt": "이집트", "Chile": "칠레", "Italy": "이탈리아", "United States": "미국",
    "United Kingdom": "영국", "Thailand": "태국", "Sweden": "스웨덴", "Peru": "페루", "Kenya": "케냐",
    "Nigeria": "나이지리아", "Iceland": "아이슬란드", "Switzerland": "스위스", "Portugal": "포르투갈",
    "Netherlands": "네덜란드", "Turkey": "튀르키예", "China": "중국", "Singapore": "싱가포르", "Greece": "그리스",
}
# Many cities share first letters so a short prefix gives several suggestions.
CITY_LIST = ["Seoul", "서울", "Busan", "부산", "Incheon", "인천", "Daegu", "대구", "Suwon", "수원", "Tokyo", "Osaka",
             "Sapporo", "Paris", "Berlin", "München", "Lagos", "Lima", "Toronto", "Sydney", "Salvador",
             "Santiago", "San Francisco", "San Diego", "Seattle", "Shanghai", "Singapore", "Stockholm", "Sevilla",
             "Reykjavík", "Rome", "Rotterdam", "Montréal", "Madrid", "Manila", "Melbourne", "Mumbai"]
INTERESTS = ["Travel", "Cooking", "요리", "Photography", "Jazz", "Hiking", "Gaming", "Café culture", "K-pop", "Film",
             "Gardening", "Running", "Yoga", "독서", "Board games", "Chess", "Astronomy", "Painting", "Cycling",
             "Podcasts", "Fashion", "Football", "Baseball", "등산", "Pottery", "Knitting", "Robotics", "Poetry"]
CONTACT_OPTIONS = {  # value -> (English, Korean) labels; the seed picks one language
    "email": ("Email", "이메일"),
    "phone": ("Phone call", "전화"),
    "sms": ("Text message", "문자 메시지"),
    "none": ("Don't contact me", "연락 안 함"),
}
FORM_TITLES = ["Sign-up 2026", "행사 참가 신청", "Beta survey", "Newsletter", "Café club", "Volunteers"]
REQUIRED = ("name", "email", "country", "agree")


def slug(text: str) -> str:
    """An ASCII-ish key fragment for a name (Hangul kept as is)."""
    base = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    base = unicodedata.normalize("NFC", base)  # NFKD splits Hangul into jamo; put the syllables back
    return re.sub(r"[^0-9a-z\uac00-\ud7a3]+", "_", base.casefold()).strip("_")


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def suggestions(query: str, limit: int = 5) -> list[str]:
    """Cities whose name or any word starts with ``query`` (case- and accent-insensitive)."""
    q = _fold(query.strip())
    if not q:
        return []
    hits = [c for c in CITY_LIST if any(w.startswith(q) for w in [_fold(c), *_fold(c).split()])]
    return hits[:limit]


def valid_email(text: str) -> bool:
    return re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text.strip()) is not None


class WebFormApp(App):
    key = "webform"
    label_key = "webform"
    package = "com.handa.webform"
    icon = (0, 150, 136)

    def init_state(self) -> None:
        r = self.rng
        self.form_title = r.choice(FORM_TITLES)
        self.lang = r.choice([0, 0, 1])
        self.interest_order = r.sample(INTERESTS, len(INTERESTS))
        self.cookies = self.style.distractors and r.random() < 0.5
        self.submissions: list[dict] = []
        self.country_query = ""
        self.missing: list[str] = []
        self.clear_form()
        # sometimes the browser autofilled part of the form
        if r.random() < 0.3:
            self.name = r.choice(["Jamie Park", "김하늘", "Zoë Müller", "Test User"])
        if r.random() < 0.3:
            self.country = r.choice(COUNTRY_LIST)
        if r.random() < 0.3:
            self.newsletter = True

    def clear_form(self) -> None:
        self.name = self.email = self.phone = self.city = self.country = ""
        self.contact = "email"
        self.newsletter = False
        self.agree = False
        self.interests: set[str] = set()

    # ------------------------------------------------------------ state helpers (also used by tasks)
    @property
    def tab(self) -> str:
        below = self.pages[-2] if self.page == "country" and len(self.pages) > 1 else self.page
        return below if below in ("main", "prefs", "review") else "main"

    @property
    def submitted(self) -> Optional[dict]:
        return self.submissions[-1] if self.submissions else None

    def record(self) -> dict:
        return {"name": self.name.strip(), "email": self.email.strip(), "phone": self.phone.strip(),
                "city": self.city.strip(), "country": self.country, "contact": self.contact,
                "newsletter": self.newsletter, "agree": self.agree, "interests": sorted(self.interests)}

    def contact_label(self, value: str) -> str:
        return CONTACT_OPTIONS[value][self.lang]

    # ------------------------------------------------------------ actions
    def _set_tab(self, tab: str) -> None:
        if self.page == "country":
            self.pages.pop()
        self.pages[-1] = tab  # tabs replace each other; back leaves the form
        self.focus = ""
        self.menu = None
        self.dialog = None

    def _type_city(self, value: str) -> None:
        self.city = value
        self.menu = "suggest" if value.strip() else None

    def _pick_city(self, city: str) -> None:
        self.city = city
        self.menu = None

    def _open_country(self) -> None:
        self.pages.append("country")
        self.scroll["country"] = 0.0
        self.country_query = ""
        self.menu = None
        self.focus = "webform:country_filter"  # a searchable select: typing filters at once

    def _filter_countries(self, text: str) -> None:
        self.country_query = text
        self.scroll["country"] = 0.0

    def countries_shown(self) -> list[str]:
        q = _fold(self.country_query.strip())
        return [c for c in COUNTRY_LIST if not q or q in _fold(c) or q in COUNTRY_KO.get(c, "")]

    def _pick_country(self, country: str) -> None:
        self.country = country
        self._close_country()

    def _close_country(self) -> None:
        if self.page == "country":
            self.pages.pop()

    def _toggle_interest(self, name: str) -> None:
        self.interests ^= {name}

    def _submit(self) -> None:
        self.missing = [k for k in REQUIRED if not (getattr(self, k).strip() if k != "agree" else self.agree)]
        if "email" not in self.missing and not valid_email(self.email):
            self.missing.append("email")
        self.dialog = "missing" if self.missing else "confirm"

    def _confirm(self) -> None:
        self.submissions.append(self.record())
        self.go("done")

    def _again(self) -> None:
        self.clear_form()
        self.scroll = {}
        self.reset_to("main")

    def close_overlay(self) -> None:
        self._close_country()
        super().close_overlay()

    def back(self) -> bool:
        if self.page == "country":
            self._close_country()
            return True
        return super().back()

    # ------------------------------------------------------------ screens
    def build(self, ui: Page) -> None:
        if self.page == "done":
            self._build_done(ui)
            return
        if self.page == "country":
            ui.scroll = self.scroll.get(self.tab, 0.0)  # the form underneath keeps its own scroll
        ui.header(self.title)
        if self.cookies:
            ui.banner("webform:cookies", "This site uses cookies. 쿠키를 사용합니다.", self._hide_cookies)
        ui.text(self.form_title, key="webform:form_title", size="big")
        ui.tabs("webform:tab", [("main", self.L("form_profile")), ("prefs", self.L("form_prefs")),
                                ("review", self.L("form_review"))], self.tab, self._set_tab)
        dropdown = None
        if self.tab == "main":
            dropdown = self._build_profile(ui)
        elif self.tab == "prefs":
            self._build_prefs(ui)
        else:
            self._build_review(ui)
        if self.page == "country" and dropdown is not None:
            self._country_menu(ui, dropdown)
        if self.menu == "suggest":
            hits = suggestions(self.city)
            field = next((n for n in ui.body.walk() if n.key == "webform:city"), None)
            if hits and field is not None:
                ui.menu("webform:suggest", [(f"webform:suggest:{slug(c)}", c, lambda c=c: self._pick_city(c))
                                            for c in hits], anchor=field)
        if self.dialog == "missing":
            names = ", ".join(self._field_label(k) for k in self.missing)
            ui.dialog("webform:error", self.L("form_missing"), names, [
                ("webform:error_ok", "OK", self.close_overlay, 1)])
        elif self.dialog == "confirm":
            ui.dialog("webform:confirm", self.L("submit") + "?", self.form_title, [
                ("webform:confirm_cancel", self.L("cancel"), self.close_overlay, 0),
                ("webform:confirm_ok", self.L("submit"), self._confirm, 1),
            ])

    def _hide_cookies(self) -> None:
        self.cookies = False

    def _field_label(self, key: str) -> str:
        return {"name": self.L("name"), "email": self.L("email"), "country": self.L("country"),
                "agree": self.L("agree")}[key]

    def _required(self, label: str) -> str:
        return label + " *"

    def _build_profile(self, ui: Page) -> Node:
        ui.field("webform:name", self._required(self.L("name")), self.name, self.setter("name"))
        ui.field("webform:email", self._required(self.L("email")), self.email, self.setter("email"),
                 hint="name@example.com")
        ui.field("webform:phone", self.L("phone"), self.phone, self.setter("phone"), hint="010-0000-0000")
        ui.field("webform:city", self.L("form_city"), self.city, self._type_city, hint=self.L("form_city"))
        dropdown = ui.dropdown("webform:country", self._required(self.L("country")), self.country,
                               self._open_country, hint="Select…")
        ui.button("webform:next", self.L("form_next"), lambda: self._set_tab("prefs"), align="right")
        return dropdown

    def _build_prefs(self, ui: Page) -> None:
        ui.radios("webform:contact", self.L("form_contact"),
                  [(v, self.contact_label(v)) for v in CONTACT_OPTIONS], self.contact, self.setter("contact"))
        ui.checkbox("webform:newsletter", self.L("newsletter"), self.newsletter, self.toggler("newsletter"))
        ui.section(self.L("form_interests"), key="webform:interests_label")
        for name in self.interest_order:
            ui.row_item(f"webform:interest:{slug(name)}", name, lambda n=name: self._toggle_interest(n),
                        role=Role.checkbox, checked=name in self.interests)
        ui.button("webform:next", self.L("form_next"), lambda: self._set_tab("review"), align="right")
        # a sticky footer sums up the long list's choices; the body stops above it so nothing hides under it
        fh = 44
        ui.pin_bottom(fh)
        shown = ", ".join(n for n in self.interest_order if n in self.interests)
        bar = Node("webform:selected_bar", Role.toolbar, ui.x, ui.y + ui.h - fh, ui.w, fh, kind="bottom_bar")
        bar.add(Node("webform:interests_selected", Role.text, ui.x + ui.pad, ui.y + ui.h - fh, ui.w - 2 * ui.pad, fh,
                     name=f"{self.L('form_interests')} ({len(self.interests)}): {shown or '—'}", value=shown,
                     kind="text"))
        ui.fixed.append(bar)

    def _review_rows(self) -> list[tuple[str, str, str, str]]:
        """(field, label, shown value, tab)."""
        shown = [n for n in self.interest_order if n in self.interests]
        return [("name", self.L("name"), self.name or "—", "main"),
                ("email", self.L("email"), self.email or "—", "main"),
                ("city", self.L("form_city"), self.city or "—", "main"),
                ("country", self.L("country"), self.country or "—", "main"),
                ("contact", self.L("form_contact"), self.contact_label(self.contact), "prefs"),
                ("interests", self.L("form_interests"), ", ".join(shown) or "—", "prefs")]

    def _build_review(self, ui: Page) -> None:
        for field, label, value, tab in self._review_rows():
            ui.row_item(f"webform:review:{field}", label, lambda t=tab: self._set_tab(t), trailing=value)
        ui.row_item("webform:review:newsletter", self.L("newsletter"), lambda: self._set_tab("prefs"),
                    checked=self.newsletter)
        ui.checkbox("webform:agree", self._required(self.L("agree")), self.agree, self.toggler("agree"))
        ui.button("webform:submit", self.L("submit"), self._submit)

    def _country_menu(self, ui: Page, anchor: Node) -> None:
        """A searchable dropdown taller than the screen: a filter field on top, then options that
        scroll by the ``country`` page's offset."""
        ih, fh = 44, 52
        top, bottom = ui.body_top + 4, ui.y + ui.h - 4
        body_h = ui.body.h
        options = self.countries_shown()
        content = ih * max(1, len(options)) + 8
        a0 = min(max(anchor.y, top), bottom)
        a1 = min(max(anchor.y + anchor.h, top), bottom)
        below, above = bottom - a1, a0 - top
        w, x = anchor.w, anchor.x
        if max(below, above) < 5 * ih + fh:  # no room next to the field: a centred list instead
            h = min(content + fh, bottom - top - 40)
            y = top + (bottom - top - h) / 2
            w = min(ui.w - 40, 360)
            x = ui.x + (ui.w - w) / 2
        elif below >= above:
            y, h = a1, min(content + fh, below)
        else:
            h = min(content + fh, above)
            y = a0 - h
        scrim = Node("webform:country_menu:scrim", Role.container, ui.x, ui.y, ui.w, ui.h, kind="scrim_clear")
        box = scrim.add(Node("webform:country_menu", Role.menu, x, y, w, h, name=self.L("country"), kind="menu"))
        field = box.add(Node("webform:country_filter", Role.text_field, x + 8, y + 6, w - 16, 40,
                             name=self.L("search"), value=self.country_query, hint=self.L("search") + "…",
                             on_text=self._filter_countries, editable=True, kind="field",
                             on_submit=lambda: options and self._pick_country(options[0])))  # Enter takes the top match
        field.focused = self.focus == field.key
        list_y, list_h = y + fh, h - fh
        ratio = list_h / body_h  # device scrolls by fractions of the body; the list moves by that fraction of itself
        off = self.scroll.get("country", 0.0) * ratio
        # the options live in their own scrollable list under the filter field
        lst = box.add(Node("webform:country_list", Role.list, x, list_y, w, list_h, kind="menu_list",
                           scrollable=content > list_h))
        clip = (x, list_y, x + w, list_y + list_h)
        if not options:
            lst.add(Node("webform:country_none", Role.text, x + 16, list_y + 4, w - 32, ih, name="—", kind="text"))
        for i, c in enumerate(options):
            iy = list_y + 4 + i * ih - off
            if iy + ih <= list_y or iy >= list_y + list_h:
                continue
            item = lst.add(Node(f"webform:country_opt:{slug(c)}", Role.menu_item, x, iy, w, ih, name=c,
                                selected=c == self.country, kind="menu_item",
                                on_click=lambda c=c: self._pick_country(c)))
            item.clip = clip
        ui.overlays.append(scrim)
        # make the page's scroll range equal the list's (the device clamps the offset to it)
        ui.cursor = body_h + max(0.0, content - list_h) / ratio

    def _build_done(self, ui: Page) -> None:
        ui.header(self.title, back=self.back)
        sub = self.submitted or {}
        ui.text(self.L("form_thanks"), key="webform:thanks", size="big")
        ui.text(self.form_title, key="webform:done_title")
        for field, label in (("name", self.L("name")), ("email", self.L("email")), ("city", self.L("form_city")),
                             ("country", self.L("country"))):
            ui.row_item(f"webform:done:{field}", label, trailing=sub.get(field) or "—")
        ui.row_item("webform:done:newsletter", self.L("newsletter"), checked=bool(sub.get("newsletter")))
        ui.button("webform:again", self.L("form_again"), self._again, emphasis=3)
