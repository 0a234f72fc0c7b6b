"""Recording format v1: a crash-safe, replayable log of an episode.

Layout of ``recordings/<session>/``::

    manifest.json      who/what/when; rewritten at start and at the end
    steps.jsonl        one JSON object per step, appended and flushed as it happens
    step-0003.png      screenshot seen at step 3 (PNG or WebP)
    step-0003.tree.json.gz   the element tree seen at step 3

A process killed mid-episode leaves every completed step readable: each step's
files are written (atomically) before its line, and the line is flushed.
Typed secrets and registered secret values are masked before anything is written.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import re
import secrets as _secrets
import time
import zlib
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, Field, ValidationError

from controllers.actions import SECRET_MASK, dump_action, parse_action
from controllers.base import ActionResult
from controllers.elements import Observation, ScreenFrame, UIElement

FORMAT = "handa-recording"
VERSION = 1
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


class RecordingError(ValueError):
    """A recording that is missing, corrupt, from another version, or hostile."""


class Outcome(BaseModel):
    success: Optional[bool] = None
    reason: str = ""
    steps: int = 0
    answer: Optional[str] = None
    message: str = ""
    final_state: Optional[str] = None  # the device's own state digest, where it has one (the sim)


class TaskRef(BaseModel):
    """How to rebuild the sim episode: the template (empty for a free goal) and the device."""

    id: str = Field(default="", max_length=200)
    seed: int = 0
    form: Literal["phone", "desktop"] = "phone"
    split: Literal["all", "train", "heldout"] = "all"
    scale: float = Field(default=1.0, ge=0.5, le=4.0)
    params: dict[str, Any] = Field(default_factory=dict)


class Manifest(BaseModel):
    format: str = FORMAT
    version: int = VERSION
    session: str
    platform: str
    device: str = ""
    screen: Optional[ScreenFrame] = None
    goal: str
    policy: str
    model: Optional[str] = None
    task: Optional[TaskRef] = None
    started: float
    ended: Optional[float] = None
    status: str = "running"  # running | finished
    outcome: Optional[Outcome] = None
    secret_names: list[str] = Field(default_factory=list)


class ObservationRef(BaseModel):
    screenshot: Optional[str] = None
    tree: Optional[str] = None
    app: str = ""
    window: str = ""
    fingerprint: str = ""
    elements: int = 0
    width: int = 0
    height: int = 0


class StepRecord(BaseModel):
    index: int
    time: float
    observation: ObservationRef
    action: Optional[dict[str, Any]] = None
    secret_ref: Optional[str] = None
    decision: dict[str, Any] = Field(default_factory=dict)
    validation_error: Optional[str] = None
    result: Optional[ActionResult] = None
    after_fingerprint: Optional[str] = None
    timings_ms: dict[str, float] = Field(default_factory=dict)


class Recording(BaseModel):
    """A loaded recording: the manifest, its steps and where it lives."""

    path: Path
    manifest: Manifest
    steps: list[StepRecord]
    warnings: list[str] = Field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.manifest.status == "finished"

    def file(self, name: Optional[str]) -> Optional[Path]:
        return safe_member(self.path, name) if name else None

    def tree(self, step: StepRecord) -> list[UIElement]:
        f = self.file(step.observation.tree)
        if f is None or not f.exists():
            return []
        try:
            data = json.loads(_gunzip_capped(f.read_bytes(), MAX_TREE_BYTES, f))
            return [UIElement.model_validate(e) for e in data]
        except (OSError, ValueError, TypeError, ValidationError, zlib.error) as exc:
            if isinstance(exc, RecordingError):
                raise
            raise RecordingError(f"{f}: unreadable element tree ({exc})") from exc


MAX_TREE_BYTES = 64 * 1024 * 1024  # a 5,000-node tree is ~2 MB; more is a decompression bomb
MAX_TEXT_BYTES = 256 * 1024 * 1024


def _gunzip_capped(data: bytes, limit: int, where: Path) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data, limit + 1)
    if len(out) > limit or d.unconsumed_tail:
        raise RecordingError(f"{where}: element tree expands past {limit // (1024 * 1024)} MB; refusing it")
    return out


def safe_member(root: Path, name: str) -> Path:
    """A file inside ``root``; refuses absolute paths, separators and ``..``."""
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        raise RecordingError(f"refusing file name {name!r}: recordings may only name files in their own folder")
    path = (root / name).resolve()
    if path.parent != root.resolve():
        raise RecordingError(f"refusing {name!r}: it points outside the recording folder")
    return path


class Masker:
    """Replaces every known secret value in strings, recursively."""

    def __init__(self, secrets: Optional[dict[str, str]] = None):
        self.secrets: dict[str, str] = {k: v for k, v in (secrets or {}).items() if v}

    def add(self, name: str, value: str) -> None:
        if value:
            self.secrets[name] = value

    def name_of(self, value: str) -> Optional[str]:
        for name, v in self.secrets.items():
            if v == value:
                return name
        return None

    def text(self, s: str) -> str:
        for v in sorted(self.secrets.values(), key=len, reverse=True):
            s = s.replace(v, SECRET_MASK)
        return s

    def __call__(self, obj: Any) -> Any:
        if not self.secrets:
            return obj
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {k: self(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self(v) for v in obj]
        return obj


def _utf8(text: str) -> bytes:
    """UTF-8 bytes; a lone surrogate (not valid Unicode) becomes U+FFFD instead of failing the write."""
    return text.encode("utf-8", "replace")


def _scrub(raw: Any) -> Any:
    """Mask the text of anything in a policy's raw output that says it is secret."""
    if isinstance(raw, dict):
        out = {k: _scrub(v) for k, v in raw.items()}
        if out.get("secret") and "text" in out:
            out["text"] = SECRET_MASK  # whatever its type: it claims to be secret
        return out
    if isinstance(raw, list):
        return [_scrub(v) for v in raw]
    if isinstance(raw, str) and '"secret"' in raw and "true" in raw:
        try:
            return json.dumps(_scrub(json.loads(raw)), ensure_ascii=False)
        except ValueError:
            return SECRET_MASK  # unparseable text that claims to hold a secret: keep none of it
    return raw


def new_session_id(label: str = "") -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", label)[:40].strip("-.")
    return f"{stamp}-{slug + '-' if slug else ''}{_secrets.token_hex(3)}"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Recorder:
    """Writes one episode. Use ``start``, then ``step`` per step, then ``finish``."""

    def __init__(self, root: Path | str = "recordings", *, screenshots: bool = True, image_format: str = "png",
                 trees: bool = True, secrets: Optional[dict[str, str]] = None, session: Optional[str] = None):
        if image_format not in ("png", "webp"):
            raise ValueError("image_format must be png or webp")
        self.root = Path(root)
        self.screenshots, self.trees, self.image_format = screenshots, trees, image_format
        self.mask = Masker(secrets)
        self.session = session
        self.path: Optional[Path] = None
        self.manifest: Optional[Manifest] = None
        self._steps = None

    # ------------------------------------------------------------ lifecycle
    def start(self, *, goal: str, policy: str, platform: str, device: str = "", screen: Optional[ScreenFrame] = None,
              model: Optional[str] = None, task: Optional[TaskRef] = None) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        for attempt in range(20):
            session = self.session or new_session_id(task.id if task else "run")
            try:
                (self.root / session).mkdir(exist_ok=False)
                break
            except FileExistsError:
                if self.session is not None:
                    raise
        else:  # pragma: no cover - 20 collisions of 24 random bits
            raise FileExistsError(f"could not create a new session folder in {self.root}")
        self.session = session
        self.path = self.root / session
        self.manifest = Manifest(session=self.session, platform=platform, device=device, screen=screen,
                                 goal=self.mask.text(goal), policy=policy, model=model, task=task,
                                 started=time.time(), secret_names=sorted(self.mask.secrets))
        self._write_manifest()
        self._steps = open(self.path / "steps.jsonl", "ab")
        return self.path

    def _write_manifest(self) -> None:
        m = self.manifest
        data = m.model_dump(mode="json")
        # mask the free text only: names, paths and ids must stay intact even when a secret is short
        data["goal"] = self.mask.text(m.goal)
        if m.task is not None:
            data["task"]["params"] = self.mask(data["task"]["params"])
        if m.outcome is not None:
            data["outcome"] = self.mask(data["outcome"])
        _atomic_write(self.path / "manifest.json", _utf8(json.dumps(data, ensure_ascii=False, indent=2)))

    def step(self, index: int, observation: Observation, *, action: Any = None, decision: Any = None,
             validation_error: Optional[str] = None, result: Optional[ActionResult] = None,
             after_fingerprint: Optional[str] = None, timings_ms: Optional[dict[str, float]] = None) -> StepRecord:
        if self._steps is None:
            raise RuntimeError("Recorder.step called before start")
        t0 = time.perf_counter()
        ref = ObservationRef(app=observation.app, window=observation.window, fingerprint=observation.fingerprint(),
                             elements=len(observation.elements), width=observation.screen.width,
                             height=observation.screen.height)
        stem = f"step-{index:04d}"
        if self.screenshots and observation.has_screenshot:
            image = observation.screenshot()
            if image is not None:
                image = self._redact(image, observation)
                buf = io.BytesIO()
                if self.image_format == "png":
                    image.save(buf, format="PNG", compress_level=1)
                else:
                    image.save(buf, format="WEBP", quality=80, method=0)
                ref.screenshot = f"{stem}.{self.image_format}"
                _atomic_write(self.path / ref.screenshot, buf.getvalue())
        if self.trees:
            tree = [self.mask(e.model_dump(mode="json", exclude_defaults=True)) for e in observation.elements]
            ref.tree = f"{stem}.tree.json.gz"
            _atomic_write(self.path / ref.tree,
                          gzip.compress(_utf8(json.dumps(tree, ensure_ascii=False)), compresslevel=1))
        secret_ref = None
        action_data = None
        if action is not None:
            if getattr(action, "type", None) == "type" and getattr(action, "secret", False):
                secret_ref = self.mask.name_of(action.text)
                if secret_ref is None:
                    secret_ref = f"typed_{index}"
                    self.mask.add(secret_ref, action.text)
            try:
                action_data = self.mask(dump_action(action))
            except Exception:  # an invalid object from a policy: keep what it was, never run it
                action_data = {"invalid": self.mask(_scrub(repr(action)[:2000]))}
        if result is not None and (result.error or result.info):
            result = result.model_copy(update={"error": self.mask(result.error), "info": self.mask(result.info)})
        record = StepRecord(index=index, time=time.time(), observation=ref, action=action_data, secret_ref=secret_ref,
                            decision=self.mask(_decision_summary(decision)), validation_error=self.mask(validation_error),
                            result=result, after_fingerprint=after_fingerprint, timings_ms=dict(timings_ms or {}))
        record.timings_ms["record"] = (time.perf_counter() - t0) * 1000
        line = json.dumps(record.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
        self._steps.write(_utf8(line + "\n"))
        self._steps.flush()
        return record

    def _redact(self, image: Any, observation: Observation) -> Any:
        """Black out elements whose text shows a secret (pixels cannot be masked by string replacement)."""
        if not self.mask.secrets:
            return image
        hits = [e.bounds for e in observation.elements
                if any(v and (v in e.value or v in e.name) for v in self.mask.secrets.values())]
        if not hits:
            return image
        from PIL import ImageDraw

        image = image.copy()
        draw = ImageDraw.Draw(image)
        for b in hits:
            draw.rectangle([b.left, b.top, b.right - 1, b.bottom - 1], fill=(0, 0, 0))
        return image

    def finish(self, outcome: Outcome) -> None:
        if self.manifest is None:
            return
        if self._steps is not None:
            self._steps.close()
            self._steps = None
        self.manifest.ended = time.time()
        self.manifest.status = "finished"
        self.manifest.outcome = outcome
        self.manifest.secret_names = sorted(n for n in self.mask.secrets if not n.startswith("typed_"))
        self._write_manifest()


def _decision_summary(decision: Any) -> dict[str, Any]:
    if decision is None:
        return {}
    out: dict[str, Any] = {}
    if decision.confidence is not None:
        out["confidence"] = decision.confidence
    if decision.scores:
        out["scores"] = decision.scores
    if decision.error:
        out["error"] = decision.error
    if decision.raw is not None:
        raw = decision.raw if isinstance(decision.raw, (dict, list, str, int, float, bool)) else repr(decision.raw)
        raw = _scrub(raw)
        text = json.dumps(raw, ensure_ascii=False, default=str)
        out["raw"] = raw if len(text) <= 4000 else text[:4000] + "…"
    if decision.action is not None and getattr(decision.action, "type", None) == "type" and decision.action.secret:
        out.setdefault("raw", None)
    return out


def load_recording(path: Path | str) -> Recording:
    """Read and validate a recording folder. Raises ``RecordingError`` with the reason."""
    root = Path(path)
    if not root.is_dir():
        raise RecordingError(f"{root}: not a recording folder")
    if not (root / "manifest.json").is_file():
        raise RecordingError(f"{root}: no manifest.json (not a Handa recording)")
    mpath = safe_member(root, "manifest.json")
    try:
        if mpath.stat().st_size > MAX_TEXT_BYTES:
            raise RecordingError(f"{mpath}: too large for a manifest")
        raw = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingError(f"{mpath}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise RecordingError(f"{mpath}: not a {FORMAT} manifest")
    if raw.get("version") != VERSION:
        raise RecordingError(f"{mpath}: format version {raw.get('version')!r}; this Handa reads version {VERSION}")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise RecordingError(f"{mpath}: invalid manifest: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}") from exc
    steps: list[StepRecord] = []
    warnings: list[str] = []
    spath = root / "steps.jsonl"
    if spath.exists():
        spath = safe_member(root, "steps.jsonl")
        if spath.stat().st_size > MAX_TEXT_BYTES:
            raise RecordingError(f"{spath}: larger than {MAX_TEXT_BYTES // (1024 * 1024)} MB; refusing it")
    lines = spath.read_text(encoding="utf-8", errors="replace").split("\n") if spath.exists() else []
    if lines and lines[-1] == "":
        lines.pop()
    for n, line in enumerate(lines, 1):
        try:
            step = StepRecord.model_validate_json(line)
        except ValidationError as exc:
            if n == len(lines) and manifest.status != "finished":
                warnings.append(f"steps.jsonl line {n}: incomplete last line ignored (the run was cut off)")
                break
            raise RecordingError(f"{spath}: line {n} is not a valid step ({exc.errors()[0]['msg']})") from exc
        for name in (step.observation.screenshot, step.observation.tree):
            if name is not None:
                safe_member(root, name)
        if step.action and not step.validation_error and "invalid" not in step.action:
            try:
                parse_action(step.action)
            except ValidationError as exc:
                raise RecordingError(f"{spath}: line {n} holds an invalid action ({exc.errors()[0]['msg']})") from exc
        steps.append(step)
    if manifest.status != "finished":
        warnings.append("the episode did not finish (process killed or still running); completed steps are kept")
    return Recording(path=root, manifest=manifest, steps=steps, warnings=warnings)
