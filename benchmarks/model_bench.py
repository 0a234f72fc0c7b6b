"""Decision latency of the in-house model vs an equal-size LlamaForCausalLM, in one run.

Same as ``handa model bench``; prints the table and a final JSON line.
Usage: python benchmarks/model_bench.py [--threads 2] [--repeats 60]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.cli import app  # noqa: E402

if __name__ == "__main__":
    app(["model", "bench", "--json", *sys.argv[1:]])
