"""Calculator: a keypad grid over a small exact arithmetic engine, with a history page.

The engine is a plain class so experts can replay a key sequence and compare
the result with what the display shows (the display fully determines the state).
"""
from __future__ import annotations

import decimal
from fractions import Fraction
from typing import Optional

from controllers.elements import Role
from controllers.sim.apps.base import App
from controllers.sim.ui import Node, Page

OPS = ("add", "sub", "mul", "div")
CANON = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
# Symbol variants per seed. (The font has no U+2212, so minus is "-" or an en dash.)
SYMBOL_VARIANTS = {
    "add": ["+"],
    "sub": ["-", "–"],
    "mul": ["×", "*", "x"],
    "div": ["÷", "/"],
    "neg": ["±", "+/-"],
    "back": ["DEL", "Del", "◀"],
    "pct": ["%"],
    "dot": ["."],
    "eq": ["="],
}
# Keypad layouts, top row first; every layout has every key once.
LAYOUTS = [
    [["clear", "neg", "pct", "div"], ["7", "8", "9", "mul"], ["4", "5", "6", "sub"], ["1", "2", "3", "add"],
     ["0", "dot", "back", "eq"]],
    [["clear", "back", "pct", "div"], ["1", "2", "3", "mul"], ["4", "5", "6", "sub"], ["7", "8", "9", "add"],
     ["neg", "0", "dot", "eq"]],
    [["7", "8", "9", "div"], ["4", "5", "6", "mul"], ["1", "2", "3", "sub"], ["0", "dot", "eq", "add"],
     ["clear", "neg", "back", "pct"]],
]
MAX_DIGITS = 12


def canon(text: str) -> str:
    """Map any seed's display text to one spelling (for experts comparing displays)."""
    out = text.replace("×", "*").replace("x", "*").replace("÷", "/").replace("–", "-").replace("−", "-")
    return "".join(out.split())


def fmt(q: Fraction, minus: str = "-") -> str:
    """Exact integers as is; other values to 10 significant digits without trailing zeros."""
    sign = minus if q < 0 else ""
    q = abs(q)
    if q.denominator == 1:
        return sign + str(q.numerator)
    d = decimal.Context(prec=10).divide(decimal.Decimal(q.numerator), decimal.Decimal(q.denominator))
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return sign + s


class Engine:
    """Expression-style calculator: tokens (numbers and operators) plus the number being typed.

    ``=`` evaluates with the usual precedence (× ÷ before + −), records history and
    shows the result; a digit then starts afresh, an operator continues from it.
    """

    def __init__(self):
        self.tokens: list = []  # Fraction | op name
        self.entry = ""  # the number being typed, e.g. "-12.5"
        self.evaluated = False
        self.result: Optional[Fraction] = None
        self.error = False
        self.history: list[tuple[list, Fraction]] = []

    def reset(self) -> None:
        self.tokens, self.entry, self.evaluated, self.result, self.error = [], "", False, None, False

    @property
    def value(self) -> Fraction:
        """The number currently on the display."""
        if self.evaluated and self.result is not None:
            return self.result
        if self.entry not in ("", "-"):
            return Fraction(self.entry)
        nums = [t for t in self.tokens if isinstance(t, Fraction)]
        return nums[-1] if nums else Fraction(0)

    def _push_entry(self) -> None:
        if self.entry not in ("", "-"):
            self.tokens.append(Fraction(self.entry))
        self.entry = ""

    def press(self, k: str) -> None:
        if k == "clear":
            self.reset()
            return
        if self.error and k != "clear":
            return  # only AC leaves the error state
        if k.isdigit() or k == "dot":
            if self.evaluated:
                self.reset()
            digits = sum(c.isdigit() for c in self.entry)
            if k == "dot":
                if "." not in self.entry:
                    self.entry += "0." if self.entry in ("", "-") else "."
            elif digits < MAX_DIGITS:
                self.entry = self.entry[:-1] + k if self.entry in ("0", "-0") else self.entry + k
        elif k in OPS:
            if self.evaluated:
                self.tokens, self.evaluated = [self.result], False
            elif self.entry not in ("", "-"):
                self._push_entry()
            elif self.tokens and not isinstance(self.tokens[-1], Fraction):
                self.tokens.pop()  # a second operator replaces the first
            elif not self.tokens:
                self.tokens = [Fraction(0)]
            self.entry = ""
            self.tokens.append(k)
        elif k == "neg":
            if self.evaluated:
                start = -self.result
                self.reset()
                self.entry = fmt(start)
            elif self.entry.startswith("-"):
                self.entry = self.entry[1:]
            else:
                self.entry = "-" + self.entry
        elif k == "pct":
            if self.entry not in ("", "-"):
                self.entry = fmt(Fraction(self.entry) / 100)
        elif k == "back":
            if self.evaluated:
                return
            if self.entry:
                self.entry = self.entry[:-1]
            elif self.tokens and not isinstance(self.tokens[-1], Fraction):
                self.tokens.pop()
                if self.tokens:
                    self.entry = fmt(self.tokens.pop())
        elif k == "eq":
            self._push_entry()
            while self.tokens and not isinstance(self.tokens[-1], Fraction):
                self.tokens.pop()
            if not self.tokens:
                return
            try:
                self.result = self._evaluate(self.tokens)
            except ZeroDivisionError:
                self.error = True
                return
            self.history.append((list(self.tokens), self.result))
            self.evaluated = True

    @staticmethod
    def _evaluate(tokens: list) -> Fraction:
        terms: list = [tokens[0]]
        for op, num in zip(tokens[1::2], tokens[2::2]):
            if op == "mul":
                terms[-1] = terms[-1] * num
            elif op == "div":
                terms[-1] = terms[-1] / num
            else:
                terms += [op, num]
        total = terms[0]
        for op, num in zip(terms[1::2], terms[2::2]):
            total = total + num if op == "add" else total - num
        return total

    # ------------------------------------------------------------ text
    @staticmethod
    def tokens_text(tokens: list, sym: dict[str, str]) -> str:
        return " ".join(fmt(t, sym["sub"]) if isinstance(t, Fraction) else sym[t] for t in tokens)

    def expr_line(self, sym: dict[str, str]) -> str:
        """The small line above the display: what was entered so far."""
        if self.evaluated:
            return self.tokens_text(self.tokens, sym) + " ="
        parts = [self.tokens_text(self.tokens, sym)] if self.tokens else []
        if self.entry:
            parts.append(self.entry.replace("-", sym["sub"]))
        return " ".join(parts)

    def display(self, sym: dict[str, str]) -> str:
        if self.error:
            return "Error"
        if self.entry and not self.evaluated:
            return self.entry.replace("-", sym["sub"])
        return fmt(self.value, sym["sub"])


class CalculatorApp(App):
    key = "calculator"
    label_key = "calculator"
    package = "com.handa.calculator"
    icon = (255, 112, 67)

    def init_state(self) -> None:
        r = self.rng
        self.sym = {k: r.choice(v) for k, v in SYMBOL_VARIANTS.items()}
        self.sym["clear"] = r.choice(["AC", "C", self.L("clear")])
        self.layout = r.choice(LAYOUTS)
        self.engine = Engine()
        # some history and sometimes a leftover result on the display
        for _ in range(r.randint(0, 5)):
            a, b = r.randint(2, 99), r.randint(2, 99)
            op = r.choice(["add", "sub", "mul"])
            self._replay([*str(a), op, *str(b), "eq"])
        if r.random() < 0.5:
            self.engine.reset()

    def _replay(self, keys: list[str]) -> None:
        for k in keys:
            self.engine.press(k)

    def _label(self, k: str) -> str:
        return k if k.isdigit() else self.sym[k]

    def _press(self, k: str):
        return lambda: self.engine.press(k)

    def _use(self, i: int) -> None:
        """Tapping a history row puts its result back on the display."""
        _, result = self.engine.history[i]
        self.engine.reset()
        self.engine.entry = fmt(result)
        self.reset_to("main")

    def _clear_history(self) -> None:
        self.engine.history = []
        self.dialog = None

    def build(self, ui: Page) -> None:
        if self.page == "history":
            self._build_history(ui)
            return
        ui.header(self.title, actions=[("calculator:history", self.L("calc_history"), lambda: self.go("history"))])
        self.distractor_banner(ui)
        e = self.engine
        ui.text(e.expr_line(self.sym), key="calculator:expr")
        ui.text(e.display(self.sym), key="calculator:display", size="big", height=56)
        ui.spacer(8)
        # the keypad fills the rest of the viewport; on wide windows it stays phone-sized and centred
        rows = self.layout
        avail = ui.y + ui.h - (ui.body_top + ui.cursor) - ui.pad
        key_h = max(40.0, min(72.0, avail / len(rows) - 8))
        width = min(ui.w - 2 * ui.pad, 440)
        x0 = ui.x + (ui.w - width) / 2
        gap = 8
        kw = (width - gap * 3) / 4
        for row in rows:
            y = ui._place(key_h + gap)
            for c, k in enumerate(row):
                emphasis = 1 if k in OPS or k == "eq" else (3 if k.isdigit() or k == "dot" else 0)
                if k == "clear":
                    emphasis = 2
                desc = {"back": "Backspace", "neg": "Change sign", "pct": "Percent"}.get(k, "")
                ui._add(Node(f"calculator:key:{k}", Role.button, x0 + c * (kw + gap), y, kw, key_h,
                             name=self._label(k), desc=desc, on_click=self._press(k), emphasis=emphasis,
                             kind="button"))

    def _build_history(self, ui: Page) -> None:
        ui.header(self.L("calc_history"), back=self.back)
        hist = self.engine.history
        if not hist:
            ui.text(self.L("calc_no_history"), key="calculator:history_empty")
        for i in range(len(hist) - 1, -1, -1):  # newest first
            tokens, result = hist[i]
            ui.row_item(f"calculator:hist:{i}", Engine.tokens_text(tokens, self.sym),
                        lambda i=i: self._use(i), subtitle="= " + fmt(result, self.sym["sub"]))
        if hist:
            ui.button("calculator:clear_history", self.L("calc_clear_history"), self._ask_clear, emphasis=2)
        if self.dialog == "clear_history":
            ui.dialog("calculator:clear_dialog", self.L("calc_clear_history") + "?", f"{len(hist)} ×", [
                ("calculator:clear_cancel", self.L("cancel"), self.close_overlay, 0),
                ("calculator:clear_ok", self.L("confirm"), self._clear_history, 2),
            ])

    def _ask_clear(self) -> None:
        self.dialog = "clear_history"
