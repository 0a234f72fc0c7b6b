"""Account (login): a sign-in screen guarding an account page with a balance and account settings."""
from __future__ import annotations

from controllers.sim.apps.base import App
from controllers.sim.style import person_name
from controllers.sim.ui import Page

HANDLES = ["minjun", "seoyeon", "jihoon", "haeun", "emma", "liam", "zoe", "bjorn", "priya", "kofi", "yuki", "mateo",
           "sofia", "wei", "ama"]
PASS_WORDS = ["Sunny", "otter", "Blue", "moon", "Kimchi", "Tiger", "river", "Maple", "Seoul", "cloud", "Pixel",
              "mango", "Rocket", "snow"]
SHOPS = ["Coffee", "GS25 편의점", "Metro card", "Netflix", "Café Amélie", "Taxi", "Grocery", "이마트", "Bookstore",
         "Pharmacy", "Bäckerei", "올리브영"]
INCOME = ["Salary / 급여", "Refund", "Transfer from Mom", "이자 Interest"]


def format_money(amount_cents: int, currency: str) -> str:
    sign = "-" if amount_cents < 0 else ""
    if currency == "₩":  # the won has no minor unit
        return f"{sign}₩{abs(amount_cents) // 100:,}"
    return f"{sign}{currency}{abs(amount_cents) / 100:,.2f}"


class LoginApp(App):
    key = "login"
    label_key = "login_app"
    package = "com.handa.login"
    icon = (0, 121, 107)

    def init_state(self) -> None:
        r = self.rng
        handle = r.choice(HANDLES)
        self.username = r.choice([f"{handle}{r.randint(1, 99)}", f"{handle}.{r.choice(['kim', 'lee', 'park', 'ng'])}",
                                  f"{handle}@mail.com"])
        self.password = f"{r.choice(PASS_WORDS)}{r.choice('-#@_!')}{r.choice(PASS_WORDS)}{r.randint(2, 999)}"
        self.display_name = person_name(r)
        self.currency = r.choice(["₩", "$", "€"])
        won = self.currency == "₩"  # amounts are kept in cents; won have no fraction, so whole hundreds of won
        self.balance = r.randint(10, 50_000) * 100_000 if won else r.randint(1_000, 5_000_000)
        self.transactions = []
        for _ in range(r.randint(4, 7)):
            cents = r.randint(1, 900) * 10_000 if won else r.randint(300, 90_000)
            income = r.random() < 0.2
            self.transactions.append((r.choice(INCOME if income else SHOPS), cents if income else -cents))
        self.signed_in = False
        self.remember = r.random() < 0.4
        self.user_draft = self.username if self.remember else ""
        self.pass_draft = ""
        self.error = ""
        self.notifications = r.random() < 0.7
        self.two_factor = r.random() < 0.3
        self.marketing = r.random() < 0.5
        self.name_draft = ""
        self.reset_email = ""
        self.reset_sent = False
        self.failed_attempts = 0

    # ------------------------------------------------------------ state API
    @property
    def balance_text(self) -> str:
        return format_money(self.balance, self.currency)

    def reset_to(self, page: str = "main") -> None:
        # the app's root is the account page while signed in
        super().reset_to("account" if self.signed_in and page == "main" else page)

    def sign_in_as(self) -> None:
        """Put the app in the signed-in state (task setup)."""
        self.signed_in = True
        self.error = ""
        self.pass_draft = ""
        self.reset_to("account")

    # ------------------------------------------------------------ handlers
    def _set_user(self, text: str) -> None:
        self.user_draft = text
        self.error = ""

    def _set_pass(self, text: str) -> None:
        self.pass_draft = text
        self.error = ""

    def _sign_in(self) -> None:
        if not self.user_draft.strip() or not self.pass_draft:
            self.error = self.L("login_error")
            return
        if self.user_draft.strip().casefold() == self.username.casefold() and self.pass_draft == self.password:
            self.failed_attempts = 0
            self.sign_in_as()
        else:
            # like real sign-in forms: say nothing about which part was wrong, and clear the password
            self.failed_attempts += 1
            self.error = self.L("login_error")
            self.pass_draft = ""
            self.focus = "login:password"

    def _sign_out(self) -> None:
        self.signed_in = False
        self.dialog = None
        self.pass_draft = ""
        if not self.remember:
            self.user_draft = ""
        self.reset_to("main")

    def _open_rename(self) -> None:
        self.name_draft = self.display_name
        self.dialog = "rename"
        self.focus = "login:name_field"

    def _commit_rename(self) -> None:
        if self.name_draft.strip():
            self.display_name = self.name_draft.strip()
        self.dialog = None

    def _send_reset(self) -> None:
        self.reset_sent = bool(self.reset_email.strip())

    def _go(self, page: str):
        def go() -> None:
            self.go(page)
        return go

    # ------------------------------------------------------------ screens
    def build(self, ui: Page) -> None:
        page = self.page
        if not self.signed_in and page in ("account", "profile"):
            page = "main"  # never show account data while signed out
        if page == "account":
            self._build_account(ui)
        elif page == "profile":
            self._build_profile(ui)
        elif page == "forgot":
            ui.header(self.L("forgot_password"), back=self.back)
            ui.text("We'll email you a reset link.\n재설정 링크를 보내드립니다.", key="login:reset_info")
            ui.field("login:reset_email", self.L("email"), self.reset_email, self.setter("reset_email"),
                     on_submit=self._send_reset)
            ui.button("login:reset_send", self.L("send"), self._send_reset)
            if self.reset_sent:
                ui.text("Check your inbox / 메일을 확인하세요", key="login:reset_sent")
        else:
            self._build_sign_in(ui)

    def _build_sign_in(self, ui: Page) -> None:
        ui.header(self.title)
        ui.image("login:logo", f"{self.title} logo", h=64)
        ui.text("Welcome back / 다시 오신 것을 환영합니다", key="login:welcome")
        ui.field("login:username", self.L("username"), self.user_draft, self._set_user,
                 on_submit=lambda: setattr(self, "focus", "login:password"))
        ui.field("login:password", self.L("password"), self.pass_draft, self._set_pass, password=True,
                 on_submit=self._sign_in)
        ui.checkbox("login:remember", self.L("remember_me"), self.remember, self.toggler("remember"))
        if self.error:
            ui.text(self.error, key="login:error")
        ui.button("login:sign_in", self.L("sign_in"), self._sign_in)
        ui.button("login:forgot", self.L("forgot_password"), self._go("forgot"), emphasis=3, align="left")

    def _build_account(self, ui: Page) -> None:
        ui.header(self.title)
        self.distractor_banner(ui)
        ui.text(f"Hi, {self.display_name}", key="login:greeting")
        ui.section(self.L("balance"), key="login:balance_label")
        ui.text(self.balance_text, key="login:balance", size="big")
        ui.row_item("login:settings", self.L("account_settings"), self._go("profile"), subtitle=self.username)
        ui.section("Recent activity / 최근 거래", key="login:activity")
        for i, (what, amount) in enumerate(self.transactions):
            ui.row_item(f"login:tx:{i}", what, trailing=format_money(amount, self.currency))
        ui.button("login:sign_out", self.L("sign_out"), lambda: setattr(self, "dialog", "sign_out"), emphasis=2)
        if self.dialog == "sign_out":
            ui.dialog("login:signout_dialog", f"{self.L('sign_out')}?", self.username, [
                ("login:signout_cancel", self.L("cancel"), self.close_overlay, 0),
                ("login:signout_ok", self.L("sign_out"), self._sign_out, 2),
            ])

    def _build_profile(self, ui: Page) -> None:
        ui.header(self.L("account_settings"), back=self.back)
        ui.row_item("login:display_name", self.L("display_name"), self._open_rename, subtitle=self.display_name)
        ui.switch("login:notifications", self.L("notifications"), self.notifications, self.toggler("notifications"))
        ui.switch("login:remember_switch", self.L("remember_me"), self.remember, self.toggler("remember"))
        ui.switch("login:two_factor", self.L("two_factor"), self.two_factor, self.toggler("two_factor"))
        ui.switch("login:marketing", self.L("marketing"), self.marketing, self.toggler("marketing"))
        if self.dialog == "rename":
            ui.dialog("login:name_dialog", self.L("display_name"), self.username, [
                ("login:name_cancel", self.L("cancel"), self.close_overlay, 0),
                ("login:name_ok", self.L("save"), self._commit_rename, 1),
            ], fields=[("login:name_field", self.L("display_name"), self.name_draft, self.setter("name_draft"))])
