"""Helpers shared by the benchmark scripts (run as ``python bench/<name>.py``, so this
directory is on ``sys.path``)."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

#: Root of the repository (this file is ``<root>/bench/common.py``).
REPO_ROOT = Path(__file__).resolve().parent.parent


def git_state() -> dict[str, Any]:
    """Commit of the repository and uncommitted files under ``kanta/`` (what the figures ran),
    or ``None`` values when git is unavailable."""
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
                                  check=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "--short", "HEAD")
    status = git("status", "--porcelain", "--", "kanta")
    return {"commit": commit.strip() if commit else None,
            "kanta_uncommitted": None if status is None else [line[3:] for line in status.splitlines()]}


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
