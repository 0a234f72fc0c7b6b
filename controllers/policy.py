"""What a policy returns, and what it is shown of the past.

Lives in the contract layer so experts (``tasks``), the model (``model``) and
the loop (``agent``) share one vocabulary without importing upward.
"""
from __future__ import annotations

from typing import Any, Optional, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from controllers.actions import Action
from controllers.elements import Observation


class Decision(BaseModel):
    """A policy's choice for one step.

    ``action`` is None when the policy's output could not be parsed into a valid
    action; ``error`` then says why and ``raw`` keeps what it produced. Such a
    decision is never executed.
    """

    action: Optional[Action] = None
    confidence: Optional[float] = None
    scores: dict[str, float] = Field(default_factory=dict)
    raw: Any = None
    error: Optional[str] = None


class HistoryEntry(BaseModel):
    """One past step as policies see it."""

    step: int
    action: Optional[Action] = None
    ok: bool = True
    error: Optional[str] = None


@runtime_checkable
class Policy(Protocol):
    """Decides the next action. ``name`` identifies it in recordings."""

    name: str

    def reset(self, goal: str) -> None: ...

    def decide(self, goal: str, observation: Observation, history: list[HistoryEntry]) -> Decision: ...
