"""Calculator tasks: arithmetic by keypad (incl. decimals and sign change), reading results, history."""
from __future__ import annotations

import re
from abc import abstractmethod
from fractions import Fraction

from controllers.sim.apps.calculator import CANON, Engine, canon, fmt
from tasks.base import TaskTemplate, register

SHOW = {"add": "+", "sub": "−", "mul": "×", "div": "÷"}
SAY = {"add": "plus", "sub": "minus", "mul": "times", "div": "divided by"}


def keys_for(number: str) -> list[str]:
    """Keypad keys that enter ``number`` (a leading '-' is entered with ±, after the digits)."""
    neg = number.startswith("-")
    keys = ["dot" if c == "." else c for c in number.lstrip("-")]
    return keys + (["neg"] if neg else [])


def sequence(numbers: list[str], ops: list[str]) -> list[str]:
    seq = keys_for(numbers[0])
    for op, num in zip(ops, numbers[1:]):
        seq += [op, *keys_for(num)]
    return seq + ["eq"]


def truth(numbers: list[str], ops: list[str]) -> Fraction:
    e = Engine()
    for k in sequence(numbers, ops):
        e.press(k)
    return e.result


def _state_after(keys: list[str]) -> tuple[str, str]:
    e = Engine()
    for k in keys:
        e.press(k)
    return canon(e.expr_line(CANON)), canon(e.display(CANON))


def press_sequence(kit, seq: list[str], finish):
    """Press ``seq`` on the calculator, resuming from whatever prefix the display shows.

    The display (expression line + value) determines the engine state, so replaying
    each prefix and comparing finds how far along we are; anything else is cleared.
    """
    if not kit.in_app("calculator"):
        return kit.goto("calculator")
    if kit.has("calculator:clear_cancel"):
        return kit.click("calculator:clear_cancel")
    if kit.page("calculator") != "main":
        return kit.go_back("calculator")
    seen = (canon(kit.el("calculator:expr").name), canon(kit.el("calculator:display").name))
    for i in range(len(seq), -1, -1):
        if _state_after(seq[:i]) == seen:
            if i == len(seq):
                return finish(kit)
            return kit.click(f"calculator:key:{seq[i]}")
    return kit.click("calculator:key:clear")


_NUMBER = re.compile(r"-?[0-9]{1,40}(\.[0-9]{1,40})?")


def parse_number(text: str):
    """A plain decimal as a Fraction, or None. No exponents: "1e999999999" must not take forever."""
    t = text.strip().replace(",", "").replace("−", "-").replace("–", "-").replace(" ", "")
    if not _NUMBER.fullmatch(t):
        return None
    return Fraction(t)


def close_enough(answer, value: Fraction) -> bool:
    got = parse_number(answer or "")
    return got is not None and abs(got - value) <= Fraction(1, 10 ** 8) * max(1, abs(value))


def _evaluated(device, value: Fraction) -> bool:
    e = device.app("calculator").engine
    return e.evaluated and not e.error and e.result == value


def _expr_text(numbers, ops) -> str:
    out = numbers[0]
    for op, num in zip(ops, numbers[1:]):
        out += f" {SHOW[op]} {num}"
    return out.replace("-", "−")


class _Compute(TaskTemplate):
    app = "calculator"

    @abstractmethod
    def numbers(self, rng) -> tuple[list[str], list[str]]:
        """The operands and operators of one instance."""

    def sample(self, rng, device):
        numbers, ops = self.numbers(rng)
        return {"numbers": numbers, "ops": ops, "expr": _expr_text(numbers, ops),
                "value": fmt(truth(numbers, ops))}

    def is_successful(self, device, params, answer=None):
        return _evaluated(device, truth(params["numbers"], params["ops"]))

    def act(self, kit, params):
        return press_sequence(kit, sequence(params["numbers"], params["ops"]), lambda k: k.done())


@register
class Compute(_Compute):
    id = "calculator.compute"
    steps_hint = 10
    goals = ["Compute {expr} on the calculator", "Use the calculator to work out {expr}", "계산기로 {expr} 계산해줘",
             "Calculate {a} {say} {b}"]

    def numbers(self, rng):
        op = rng.choice(["add", "sub", "mul", "div"])
        a, b = rng.randint(10, 999), rng.randint(2, 99)
        if op == "div":
            a = b * rng.randint(2, 40)  # keep the quotient whole
        return [str(a), str(b)], [op]

    def sample(self, rng, device):
        p = super().sample(rng, device)
        p.update(a=p["numbers"][0], b=p["numbers"][1], say=SAY[p["ops"][0]])
        return p


@register
class Chain(_Compute):
    id = "calculator.chain"
    steps_hint = 11
    goals = ["Compute {expr}", "What does {expr} come to? Work it out on the calculator and leave the result showing",
             "계산기로 {expr} 을 계산해줘"]

    def numbers(self, rng):
        ops = [rng.choice(["mul", "add"]), rng.choice(["sub", "add", "mul"])]
        return [str(rng.randint(2, 99)), str(rng.randint(2, 30)), str(rng.randint(1, 99))], ops


@register
class DecimalAdd(_Compute):
    id = "calculator.decimal"
    steps_hint = 12
    goals = ["Add {a} and {b} on the calculator", "Calculate {a} + {b}", "{a} 더하기 {b} 계산해줘"]

    def numbers(self, rng):
        a = f"{rng.randint(1, 99)}.{rng.choice(['5', '25', '75', '1', '05'])}"
        b = f"{rng.randint(0, 9)}.{rng.choice(['5', '2', '8'])}"
        return [a, b], ["add"]

    def sample(self, rng, device):
        p = super().sample(rng, device)
        p.update(a=p["numbers"][0], b=p["numbers"][1])
        return p


@register
class Negative(_Compute):
    id = "calculator.negative"
    steps_hint = 9
    goals = ["Compute {expr} (use the ± key for the minus sign)", "Calculate negative {n} times {m}",
             "계산기로 {expr} 계산해줘"]

    def numbers(self, rng):
        return [str(-rng.randint(2, 99)), str(rng.randint(2, 30))], ["mul"]

    def sample(self, rng, device):
        p = super().sample(rng, device)
        p.update(n=p["numbers"][0].lstrip("-"), m=p["numbers"][1])
        return p


@register
class AnswerProduct(_Compute):
    id = "calculator.answer"
    steps_hint = 9
    goals = ["What is {a} × {b}?", "Use the calculator: how much is {a} times {b}?", "{a} 곱하기 {b}는 얼마야?",
             "Tell me the product of {a} and {b}"]

    def numbers(self, rng):
        return [str(rng.randint(11, 99)), str(rng.randint(11, 99))], ["mul"]

    def sample(self, rng, device):
        p = super().sample(rng, device)
        p.update(a=p["numbers"][0], b=p["numbers"][1])
        return p

    def is_successful(self, device, params, answer=None):
        return close_enough(answer, truth(params["numbers"], params["ops"]))

    def act(self, kit, params):
        return press_sequence(kit, sequence(params["numbers"], params["ops"]),
                              lambda k: k.answer(k.el("calculator:display").name.replace("–", "-")))


@register
class ClearCalculator(TaskTemplate):
    id = "calculator.clear"
    app = "calculator"
    steps_hint = 2
    goals = ["Clear the calculator", "Reset the calculator display", "계산기 화면 지워줘", "Press AC on the calculator"]

    def setup(self, device, params):
        e = device.app("calculator").engine
        e.reset()
        for k in ["4", "2", "mul", "7"]:
            e.press(k)

    def is_successful(self, device, params, answer=None):
        e = device.app("calculator").engine
        return not e.tokens and e.entry == "" and not e.evaluated and not e.error

    def act(self, kit, params):
        return press_sequence(kit, [], lambda k: k.done())


def _history_page(kit):
    """None once on the history page (with nothing on top)."""
    if not kit.in_app("calculator"):
        return kit.goto("calculator")
    page = kit.page("calculator")
    if page == "history":
        return None
    return kit.click("calculator:history") if page == "main" else kit.go_back("calculator")


@register
class ClearHistory(TaskTemplate):
    id = "calculator.clear_history"
    app = "calculator"
    steps_hint = 5
    goals = ["Clear the calculator's history", "Delete all past calculations", "계산 기록을 모두 지워줘",
             "Erase the calculation history"]

    def setup(self, device, params):
        app = device.app("calculator")
        if len(app.engine.history) < 2:
            app._replay(["1", "2", "add", "3", "0", "eq", "9", "mul", "8", "eq"])

    def is_successful(self, device, params, answer=None):
        return device.app("calculator").engine.history == []

    def act(self, kit, params):
        if kit.has("calculator:clear_ok"):
            return kit.click("calculator:clear_ok")
        move = _history_page(kit)
        if move:
            return move
        if kit.has("calculator:history_empty"):
            return kit.done()
        e, move = kit.seek("calculator:clear_history")
        return move or kit.click(e)


@register
class LastResult(TaskTemplate):
    id = "calculator.history_result"
    app = "calculator"
    steps_hint = 2
    goals = ["What was the result of {expr} in the calculator history?",
             "Check the calculator history: what did {expr} come to?", "계산 기록에서 {expr}의 결과가 뭐였어?"]

    def sample(self, rng, device):
        a, b = rng.randint(12, 99), rng.randint(12, 99)
        op = rng.choice(["mul", "add", "sub"])
        return {"numbers": [str(a), str(b)], "ops": [op], "expr": _expr_text([str(a), str(b)], [op])}

    def setup(self, device, params):
        app = device.app("calculator")
        app._replay(sequence(params["numbers"], params["ops"]))
        for _ in range(device.seed % 3):  # later calculations push it down the list
            app._replay(["7", "add", str(device.seed % 9 + 1), "eq"])
        app.engine.reset()

    def is_successful(self, device, params, answer=None):
        return close_enough(answer, truth(params["numbers"], params["ops"]))

    def act(self, kit, params):
        move = _history_page(kit)
        if move:
            return move
        want = canon(_expr_text(params["numbers"], params["ops"]))
        for e in kit.els("calculator:hist:"):
            if canon(e.name) == want:
                return kit.answer(e.description.lstrip("= ").replace("–", "-"))
        e, move = kit.seek("calculator:hist:0")  # oldest entry is at the bottom
        return move or kit.done()
