"""Shared fixtures: the shipped checkpoint, loaded once per test session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def policy():
    from model.policy import InHousePolicy

    return InHousePolicy(threads=2)


@pytest.fixture(scope="session")
def tokenizer():
    from model.policy import CHECKPOINT
    from model.tokenizer import load

    return load(CHECKPOINT)
