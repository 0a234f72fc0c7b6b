"""Account (login) tasks: sign in/out, stay signed in, account settings and reading the balance."""
from __future__ import annotations

from controllers.sim.style import person_name
from tasks.base import TaskTemplate, register

CREDS = "as {user} with password {pw}"


def _creds(rng, device) -> dict:
    app = device.app("login")
    # how the sign-in form looks at the start: empty, a stale username, or a failed attempt
    start = rng.choices(["blank", "stale", "error"], weights=[65, 20, 15])[0]
    return {"user": app.username, "pw": app.password, "start": start}


def _signed_out(device, params) -> None:
    app = device.app("login")
    app.signed_in = False
    app.reset_to("main")
    if params["start"] == "stale":
        app.user_draft = "guest" + app.username[:3]
    elif params["start"] == "error":
        app.user_draft = app.username
        app.error = app.L("login_error")


def sign_in(kit, params, remember: bool = False):
    """A move toward the signed-in account; None once signed in (on the account or settings page)."""
    if not kit.in_app("login"):
        return kit.goto("login")
    page = kit.page("login")
    if page in ("account", "profile"):
        return None
    if page != "main":
        return kit.go_back("login")
    if kit.has("login:remember"):
        kit.memory["remember_ok"] = bool(kit.checked("login:remember"))
    user, move = kit.seek("login:username")
    if user is None:
        return move
    if user.value != params["user"]:
        return kit.type(user, params["user"])
    if remember:
        box, move = kit.seek("login:remember")
        if box is None:
            return move
        if not box.states.checked:
            return kit.click(box)
    pw, move = kit.seek("login:password")
    if pw is None:
        return move
    if len(pw.value) != len(params["pw"]):  # the field shows bullets; a wrong guess clears it on failure
        return kit.type(pw, params["pw"], secret=True, submit=kit.seed % 2 == 1)
    e, move = kit.seek("login:sign_in")
    return move or kit.click(e)


def to_profile(kit, params):
    """Sign in, then open account settings; None once there."""
    move = sign_in(kit, params)
    if move is not None:
        return move
    if kit.has("login:signout_dialog"):
        return kit.click("login:signout_cancel")
    if kit.page("login") == "account":
        e, move = kit.seek("login:settings")
        return move or kit.click(e)
    return None


class _AccountTask(TaskTemplate):
    """Starts signed out; the goal carries the account's credentials (the password is a task secret)."""

    app = "login"
    secret_params = ("pw",)

    def sample(self, rng, device):
        return _creds(rng, device)

    def setup(self, device, params):
        _signed_out(device, params)


@register
class SignIn(_AccountTask):
    id = "login.sign_in"
    steps_hint = 3
    goals = [f"Sign in {CREDS}", "Log in to my account. Username: {user}, password: {pw}",
             "{user} 계정으로 로그인해줘 (비밀번호 {pw})", "Use {user} / {pw} to log into the Account app"]

    def is_successful(self, device, params, answer=None):
        return device.app("login").signed_in

    def act(self, kit, params):
        return sign_in(kit, params) or kit.done()


@register
class StaySignedIn(TaskTemplate):
    id = "login.stay_signed_in"
    app = "login"
    secret_params = ("pw",)
    steps_hint = 5
    goals = [f"Sign in {CREDS} and tick 'remember me'", "Log in as {user} (password {pw}) and stay signed in",
             "{user} / {pw}로 로그인하고 로그인 유지를 켜줘", "Keep me logged in: sign in as {user}, password {pw}"]

    def sample(self, rng, device):
        return _creds(rng, device)

    def setup(self, device, params):
        app = device.app("login")
        app.remember = False
        app.user_draft = ""
        _signed_out(device, params)

    def is_successful(self, device, params, answer=None):
        app = device.app("login")
        return app.signed_in and app.remember

    def act(self, kit, params):
        move = sign_in(kit, params, remember=True)
        if move is not None:
            return move
        if kit.memory.get("remember_ok"):  # it was ticked when we signed in
            return kit.done()
        # signed in some other way: check the setting on the account settings page
        move = to_profile(kit, params)
        if move is not None:
            return move
        e, move = kit.seek("login:remember_switch")
        if e is None:
            return move
        if not e.states.checked:
            return kit.click(e)
        return kit.done()


@register
class SignOut(TaskTemplate):
    id = "login.sign_out"
    app = "login"
    secret_params = ("pw",)
    steps_hint = 3
    goals = ["Sign out of the account app", "Log me out", "계정에서 로그아웃해줘", "Sign out of {user}"]

    def sample(self, rng, device):
        return _creds(rng, device)

    def setup(self, device, params):
        device.app("login").sign_in_as()

    def is_successful(self, device, params, answer=None):
        return not device.app("login").signed_in

    def act(self, kit, params):
        if not kit.in_app("login"):
            return kit.goto("login")
        if kit.has("login:signout_dialog"):
            return kit.click("login:signout_ok")
        page = kit.page("login")
        if page == "main":
            return kit.done()
        if page != "account":
            return kit.go_back("login")
        e, move = kit.seek("login:sign_out")
        return move or kit.click(e)


@register
class AccountSwitch(TaskTemplate):
    id = "login.notifications"
    app = "login"
    secret_params = ("pw",)
    steps_hint = 5
    goals = [f"Sign in {CREDS} and turn {{state}} notifications",
             "Log in as {user} (password: {pw}), then switch {state} account notifications",
             "{user} / {pw}로 로그인해서 알림을 {state_ko}줘", "Notifications {state} for {user} — password is {pw}"]

    def sample(self, rng, device):
        on = rng.random() < 0.35
        return {**_creds(rng, device), "on": on, "state": "on" if on else "off", "state_ko": "켜" if on else "꺼"}

    def setup(self, device, params):
        device.app("login").notifications = not params["on"]
        _signed_out(device, params)

    def is_successful(self, device, params, answer=None):
        app = device.app("login")
        return app.signed_in and app.notifications == params["on"]

    def act(self, kit, params):
        move = to_profile(kit, params)
        if move is not None:
            return move
        e, move = kit.seek("login:notifications")
        if e is None:
            return move
        return kit.click(e) if bool(e.states.checked) != params["on"] else kit.done()


@register
class ChangeDisplayName(TaskTemplate):
    id = "login.change_name"
    app = "login"
    secret_params = ("pw",)
    steps_hint = 7
    goals = [f"Sign in {CREDS} and change the display name to {{name}}",
             "Log into {user} (password {pw}) and rename my profile to \"{name}\"",
             "{user} / {pw}로 로그인해서 표시 이름을 {name}(으)로 바꿔줘",
             "Set my account nickname to {name}. Login: {user}, password: {pw}"]

    def sample(self, rng, device):
        name = person_name(rng)
        while name == device.app("login").display_name:
            name = person_name(rng)
        return {**_creds(rng, device), "name": name}

    def setup(self, device, params):
        _signed_out(device, params)

    def is_successful(self, device, params, answer=None):
        app = device.app("login")
        return app.signed_in and app.display_name == params["name"]

    def act(self, kit, params):
        field = kit.el("login:name_field")
        if field is not None:
            if field.value != params["name"]:
                return kit.type(field, params["name"])
            return kit.click("login:name_ok")
        move = to_profile(kit, params)
        if move is not None:
            return move
        row, move = kit.seek("login:display_name")
        if row is None:
            return move
        return kit.done() if row.description == params["name"] else kit.click(row)


def _amount(text: str) -> str:
    """The number in a money string: '₩1,234,500' and '1234500원' both give '1234500'."""
    return "".join(ch for ch in text if ch.isdigit() or ch == ".").strip(".")


@register
class ReadBalance(_AccountTask):
    id = "login.read_balance"
    steps_hint = 4
    goals = [f"Sign in {CREDS} and tell me my balance", "What's the balance on account {user}? (password {pw})",
             "{user} / {pw}로 로그인해서 잔액 알려줘", "Check how much money is in {user}'s account, password {pw}"]

    def is_successful(self, device, params, answer=None):
        app = device.app("login")
        if answer is None:
            return False
        try:
            return abs(float(_amount(answer)) - float(_amount(app.balance_text))) < 0.005
        except ValueError:
            return False

    def act(self, kit, params):
        move = sign_in(kit, params)
        if move is not None:
            return move
        if kit.page("login") != "account":
            return kit.go_back("login")
        e, move = kit.seek("login:balance")
        return move or kit.answer(e.name)
