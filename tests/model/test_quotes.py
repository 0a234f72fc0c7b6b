"""Quoted parts of the goal: found as a person reads them, and a copied span stays inside one."""
from __future__ import annotations

import pytest
import torch

from controllers.actions import TypeText
from model.codec import _goal_span
from model.features import Featurizer, Memory
from model.policy import best_span
from model.quotes import quoted_spans, segments, token_groups
from tasks import load_all
from tests.model.expert_walk import expert_steps


@pytest.mark.parametrize("goal, parts", [
    ('Rename the note "Flight" to "Car service"', ["Flight", "Car service"]),
    ("'Wi-Fi password' 메모 제목을 'Reading list'(으)로 바꿔줘", ["Wi-Fi password", "Reading list"]),
    ('강서연에게 "Thanks for dinner!"라고 보내줘', ["Thanks for dinner!"]),
    ("Send 'Call me when you're free' to Mei Garcia", ["Call me when you're free"]),
    ("Check how much money is in O'Brien's account", []),  # apostrophes open nothing
    ("Read me Mei's latest message", []),
    ("Say “안녕” and ‘bye’", ["안녕", "bye"]),
    ('A stray " mark', []),  # never closed
    ("Set the title to '' and the note to 'x'", ["x"]),  # an empty pair quotes nothing
    ("", []),
])
def test_quoted_parts_are_read_as_a_person_reads_them(goal, parts):
    assert [goal[a:b] for a, b in quoted_spans(goal)] == parts


def test_tokens_get_their_part_number_and_runs_split_at_every_change(tokenizer):
    fz = Featurizer(tokenizer)
    goal = 'Rename the note "Flight" to "Car service" and "a" "b" "c"'
    ids, offsets = fz.text.encode(goal)
    groups = token_groups(goal, offsets)
    words = {goal[a:b].strip(): g for (a, b), g in zip(offsets, groups)}
    assert words["Rename"] == 0 and words["Flight"] == 1 and words["Car"] == 2 and words["service"] == 2
    assert words["c"] == 3  # parts after the third share its number
    runs = segments(groups)
    assert runs[0] == runs[1] and len(set(runs)) == 11  # the text before, then 5 parts, each with the gap after it
    assert segments([0, 1, 1, 0, 2]) == [0, 1, 1, 2, 3]


def test_best_span_stays_inside_one_quoted_part():
    start = torch.tensor([0.0, 5.0, 0.0, 0.0, 0.0])
    end = torch.tensor([0.0, 0.0, 2.0, 6.0, 1.0])
    assert best_span(start, end) == (1, 3)
    # tokens 1-2 are one quoted part, 3-4 another: the best span inside one part wins
    assert best_span(start, end, runs=[0, 1, 1, 2, 2]) == (1, 2)
    assert best_span(start, end, runs=[0, 0, 0, 0, 0]) == (1, 3)


@pytest.mark.parametrize("template", sorted(load_all()))
def test_every_text_the_experts_type_lies_inside_one_run(tokenizer, template):
    """The decoder's constraint never forbids what the expert types (all templates, both looks, every wording)."""
    fz = Featurizer(tokenizer)
    forms = load_all()[template].forms
    wordings = len(load_all()[template].goals)
    typed = 0
    for inst, obs, action in expert_steps(template, seeds=2, steps=30, forms=forms, wordings=wordings):
        if isinstance(action, TypeText) and action.text:
            feats = fz(inst.goal, obs, Memory(), with_image=False)
            span = _goal_span(action.text, feats)
            if span is None:
                continue  # not copied from the goal (the codec reports these elsewhere)
            runs = segments(token_groups(feats.goal, feats.goal_offsets))
            assert runs[span[0]] == runs[span[1]], (inst.goal, action.text)
            typed += 1
    assert typed or template not in TYPING, template


# templates whose experts type a text copied from the goal (a check that the test above checked something)
TYPING = {"contacts.add_contact", "notes.create", "notes.rename", "messages.send_text", "login.sign_in",
          "webform.signup", "calendar.add_event", "files.rename_file", "settings.rename_device"}


def test_the_typing_templates_exist():
    assert TYPING <= set(load_all())
