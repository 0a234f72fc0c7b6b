"""Built-in policies and the name -> policy factory used by the CLI."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from controllers.actions import Done, DoneStatus, parse_action
from controllers.elements import Observation
from controllers.policy import Decision, HistoryEntry

POLICY_NAMES = ("inhouse", "expert", "scripted")


class ScriptedPolicy:
    """Plays a fixed list of actions, then says done (``failure`` if any step failed).

    Entries are validated one by one when they are played, so a malformed entry
    becomes a decision error (recorded, never executed) rather than a crash.
    """

    name = "scripted"

    def __init__(self, actions: list[Any], finish: bool = True):
        self.actions = list(actions)
        self.finish = finish
        self.position = 0

    @classmethod
    def from_file(cls, path: Path | str) -> "ScriptedPolicy":
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        if isinstance(data, dict) and "actions" in data:
            data = data["actions"]
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of actions (or JSON lines)")
        if not data:
            raise ValueError(f"{path}: the script has no actions")
        return cls(data)

    def reset(self, goal: str) -> None:
        self.position = 0

    def decide(self, goal: str, observation: Observation, history: list[HistoryEntry]) -> Decision:
        if self.position >= len(self.actions):
            failed = [h for h in history if not h.ok]
            if failed:  # a script whose steps failed did not do its job
                return Decision(action=Done(status=DoneStatus.failure,
                                            summary=f"script finished; {len(failed)} of {len(history)} steps failed"),
                                confidence=1.0)
            return Decision(action=Done(status=DoneStatus.success, summary="script finished"), confidence=1.0)
        raw = self.actions[self.position]
        self.position += 1
        if not isinstance(raw, dict) and hasattr(raw, "type"):
            return Decision(action=raw, confidence=1.0, raw={"index": self.position - 1})
        try:
            return Decision(action=parse_action(raw), confidence=1.0, raw={"index": self.position - 1})
        except ValidationError as exc:
            return Decision(action=None, raw=raw, error=f"script entry {self.position - 1}: {exc.errors()[0]['msg']}")


def make_policy(name: str, *, instance: Optional[Any] = None, script: Optional[Path] = None,
                model: Optional[Path] = None) -> Any:
    """Build a policy by name; raises ValueError with what is missing."""
    if name == "inhouse":
        from model.policy import InHousePolicy

        try:
            return InHousePolicy(model)
        except FileNotFoundError as exc:
            raise ValueError(str(exc)) from exc
    if name == "expert":
        if instance is None:
            raise ValueError("the expert policy needs a sim task: pass --task ID")
        from tasks.expert import ExpertPolicy

        return ExpertPolicy(instance)
    if name == "scripted":
        if script is None:
            raise ValueError("the scripted policy needs --script FILE (a JSON list of actions)")
        return ScriptedPolicy.from_file(script)
    raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(POLICY_NAMES)}")
