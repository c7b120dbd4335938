"""What every benchmark prints first: the machine and how busy it is (figures from a loaded machine differ).

from machine import print_machine   # bench/ is the script's directory, so it is importable
print_machine("web throughput")
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# CPU flags that change what the benchmarks measure (vector width, bfloat16 and AMX matrix units).
INTERESTING_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_model_and_flags() -> tuple[str, list[str]]:
    model, flags = platform.processor() or platform.machine(), []
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            present = set(value.split())
            flags = [flag for flag in INTERESTING_FLAGS if flag in present]
    return model, flags


def machine_lines() -> list[str]:
    model, flags = cpu_model_and_flags()
    one, five, fifteen = os.getloadavg()
    cores = os.cpu_count() or 1
    busy = "idle" if one < 0.5 * cores else "LOADED (figures are slower and noisier than on an idle machine)"
    return [
        f"# machine: {model}, {cores} cores, flags {' '.join(flags) or '(none of interest)'}",
        f"# load average: {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) — {busy}",
        f"# Python {platform.python_version()} on {platform.system()} {platform.release()}",
    ]


def print_machine(title: str) -> None:
    print(f"# {title}")
    for line in machine_lines():
        print(line)


def print_load(when: str) -> None:
    """The load average again (after a run: was the machine busy while it ran?)."""
    one, five, fifteen = os.getloadavg()
    print(f"# load average {when}: {one:.2f} {five:.2f} {fifteen:.2f}")


def describe() -> str:
    """One line: CPU model, CPU count and load average (for a table's caption)."""
    model, _ = cpu_model_and_flags()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{model}, {os.cpu_count()} CPUs, load average {load}"
