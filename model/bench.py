"""Decision latency of the in-house model against a conventional baseline of equal size.

Ours: ``InHousePolicy.decide`` end to end (features, one forward pass,
decoding) on sim observations grown to 50/150/400 elements.
Baseline: transformers' ``LlamaForCausalLM`` with the same tokenizer and the
same parameter count (±10%), reading the observation serialized as text and
generating the action as JSON greedily with a KV cache, for as many tokens as
the true action's JSON has. Its weights are untrained: only time is measured.
Both run in the same process, with the same threads, one after the other.
"""
from __future__ import annotations

import json
import resource
import statistics
import time
from typing import Any, Optional

import torch

from controllers.actions import dump_action
from controllers.elements import Observation, Rect, Role, UIElement
from controllers.policy import HistoryEntry

SIZES = (50, 150, 400)
NAMES = ["Kim Minsu", "이서연", "Park Jiho", "Zoë Martin", "최민준", "Alex Chen", "정하은", "Sam Lee"]


def grown_observation(n: int, seed: int = 7) -> tuple[str, Observation]:
    """A real sim observation (contacts list) with synthetic rows added until it has ``n`` elements."""
    from controllers.sim.controller import SimController
    from tasks.base import make_instance

    inst = make_instance("contacts.add_contact", seed=seed, form="phone")
    controller = SimController(inst.device, expose_keys=False)
    obs = controller.observe()
    obs.screenshot()  # rendered once here: the benchmark times deciding, not drawing the screen
    elements = list(obs.elements)[:n]
    w, h = obs.screen.width, obs.screen.height
    k = 0
    next_id = max((e.id for e in elements), default=0) + 1
    cols, rows = 4, max(1, (n - len(elements) + 3) // 4)
    while len(elements) < n:
        c, r = k % cols, k // cols
        top = int(h * 0.1 + r * (h * 0.85 / rows))
        bounds = Rect(left=int(c * w / cols), top=top, right=int((c + 1) * w / cols) - 1,
                      bottom=max(top + 2, int(top + h * 0.85 / rows) - 1))
        elements.append(UIElement(id=next_id, role=Role.list_item if k % 3 else Role.button,
                                  name=f"{NAMES[k % len(NAMES)]} {k}", description=f"010-{1000 + k}-{5000 + k}",
                                  bounds=bounds, states={"clickable": True}, app=obs.app))
        next_id += 1
        k += 1
    grown = obs.model_copy(update={"elements": elements})
    return inst.goal, grown


def _percentiles(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return statistics.median(values), p95


def time_policy(policy: Any, goal: str, obs: Observation, repeats: int, step: int = 1) -> list[float]:
    """Latency of ``decide`` at episode step ``step`` (the memory holds step-1 earlier actions)."""
    policy.reset(goal)
    history: list[HistoryEntry] = []
    for i in range(step - 1):  # play the episode up to the step
        decision = policy.decide(goal, obs, history)
        history.append(HistoryEntry(step=i, action=decision.action, ok=True))
    memory, last, last_fp = policy.memory.copy(), policy._last, policy._last_fp
    tried = {fp: list(actions) for fp, actions in policy.tried.by_screen.items()}
    times = []
    for _ in range(repeats):
        policy.memory, policy._last, policy._last_fp = memory.copy(), last, last_fp
        policy.tried.by_screen = {fp: list(actions) for fp, actions in tried.items()}
        t0 = time.perf_counter()
        policy.decide(goal, obs, history)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def serialize(goal: str, obs: Observation) -> str:
    """The observation as a text prompt, one line per element (what a text-only LLM agent reads)."""
    lines = [f"Goal: {goal}", f"Screen: {obs.screen.width}x{obs.screen.height} app={obs.app}", "Elements:"]
    for e in obs.elements:
        s = e.states
        flags = ",".join(f for f, on in (("clickable", s.clickable), ("editable", s.editable),
                                         ("checked", s.checked), ("focused", s.focused)) if on)
        b = e.bounds
        lines.append(f"[{e.id}] {e.role.value} \"{e.name}\" desc=\"{e.description}\" value=\"{e.value}\" "
                     f"{flags} ({b.left},{b.top},{b.right},{b.bottom})")
    lines.append("Next action as JSON:")
    return "\n".join(lines)


def llama_baseline(tokenizer: Any, params: int, max_positions: int) -> Any:
    """A LlamaForCausalLM whose parameter count is within 10% of ``params``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    best = None
    for hidden in (64, 96, 128, 160, 192):
        for layers in range(1, 9):
            inter = int(hidden * 8 / 3) // 8 * 8
            cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=inter,
                              num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                              max_position_embeddings=max_positions, pad_token_id=tokenizer.pad_token_id,
                              bos_token_id=None, eos_token_id=None, tie_word_embeddings=False)
            count = (2 * len(tokenizer) * hidden + layers * (4 * hidden * hidden + 3 * hidden * inter + 2 * hidden)
                     + hidden)
            if best is None or abs(count - params) < abs(best[0] - params):
                best = (count, cfg)
    model = LlamaForCausalLM(best[1])
    model.eval()
    return model


def time_baseline(model: Any, tokenizer: Any, prompt: str, answer: str, repeats: int) -> tuple[list[float], int, int]:
    new_tokens = max(1, len(tokenizer(answer)["input_ids"]))
    times = []
    n_in = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        n_in = ids.shape[1]
        with torch.inference_mode():
            model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                           min_new_tokens=new_tokens, do_sample=False, use_cache=True,
                           pad_token_id=tokenizer.pad_token_id)
        times.append((time.perf_counter() - t0) * 1000)
    return times, n_in, new_tokens


def run(threads: int = 2, repeats: int = 60, baseline_repeats: int = 7, model_path: Optional[str] = None,
        sizes: tuple[int, ...] = SIZES, log: Any = None) -> dict:
    from model.policy import InHousePolicy

    torch.set_num_threads(threads)
    say = log or (lambda *_: None)
    policy = InHousePolicy(model_path)
    params = sum(p.numel() for p in policy.runner.model.parameters())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = []
    baseline = None
    for n in sizes:
        goal, obs = grown_observation(n)
        time_policy(policy, goal, obs, 5)  # warm up
        ours = time_policy(policy, goal, obs, repeats)
        p50, p95 = _percentiles(ours)
        step30 = time_policy(policy, goal, obs, repeats, step=30)
        s30_p50, _ = _percentiles(step30)
        rss_ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        decision = policy.decide(goal, obs, [])
        answer = json.dumps(dump_action(decision.action), ensure_ascii=False) if decision.action else \
            '{"type": "click", "target": {"kind": "element", "id": 12}}'
        prompt = serialize(goal, obs)
        if baseline is None:
            baseline = llama_baseline(policy.tokenizer, params, max_positions=32768)
        time_baseline(baseline, policy.tokenizer, prompt, answer, 1)  # warm up
        base, n_in, n_out = time_baseline(baseline, policy.tokenizer, prompt, answer, baseline_repeats)
        b50, b95 = _percentiles(base)
        row = {"elements": n, "p50_ms": round(p50, 2), "p95_ms": round(p95, 2), "step30_p50_ms": round(s30_p50, 2),
               "step30_over_step1": round(s30_p50 / p50, 3), "baseline_p50_ms": round(b50, 1),
               "baseline_p95_ms": round(b95, 1), "baseline_prompt_tokens": n_in, "baseline_new_tokens": n_out,
               "speedup_vs_baseline": round(b50 / p50, 1), "peak_rss_mb": round(rss_ours / 1024, 1)}
        rows.append(row)
        say(row)
    base_params = sum(p.numel() for p in baseline.parameters())
    mid = next((r for r in rows if r["elements"] == 150), rows[len(rows) // 2])
    return {
        "threads": threads, "parameters": params, "baseline_parameters": base_params,
        "baseline": f"LlamaForCausalLM hidden={baseline.config.hidden_size} layers={baseline.config.num_hidden_layers}",
        "rows": rows, "p50_ms": mid["p50_ms"], "p95_ms": mid["p95_ms"],
        "speedup_vs_baseline": mid["speedup_vs_baseline"],
        "step30_over_step1": mid["step30_over_step1"],
        "peak_rss_mb_before": round(rss_before / 1024, 1),
    }
