"""Which task templates the model may train on. The one place that names the held-out ones.

Held out by template (never trained on, evaluated with ``--split heldout``,
which also switches the sim to its held-out themes and label synonyms).
They were chosen before training as tasks whose skills appear in some seen
template -- a toggle on another settings page, a form field filled elsewhere,
a long-press menu of another app -- so they test composition, not knowledge
the model could not have.
"""
from __future__ import annotations

HELDOUT_TEMPLATES: tuple[str, ...] = (
    "settings.bluetooth",
    "settings.location",
    "settings.vibrate",
    "settings.read_device_name",
    "contacts.open_contact",
    "contacts.delete_contact",
    "messages.send_text",
    "login.sign_in",
    "shop.add_to_cart",
    "files.favorite_file",
    "calendar.read_time",
    "notes.pin",
    "notes.rename",
    "calculator.chain",
    "calculator.answer",
    "webform.newsletter",
    "webform.country",
)


def seen_templates() -> list[str]:
    from tasks import load_all

    return [t for t in sorted(load_all()) if t not in HELDOUT_TEMPLATES]


def heldout_templates() -> list[str]:
    from tasks import load_all

    registry = load_all()
    missing = [t for t in HELDOUT_TEMPLATES if t not in registry]
    if missing:
        raise ValueError(f"held-out templates not registered: {missing}")
    return list(HELDOUT_TEMPLATES)
