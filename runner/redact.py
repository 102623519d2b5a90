"""Masking of secret values in Ansible events before they leave the worker."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MASK = "********"


def _maskable(secret: str) -> bool:
    # A secret made only of the mask's character could not be told apart from the mask.
    return bool(secret) and set(secret) != {"*"}


class Redactor:
    """Replaces every occurrence of any secret, also inside longer strings, with ``MASK``.

    Overlapping occurrences of different secrets are masked as one run, so no part of any secret is
    left behind. Strings are redacted wherever they appear in nested dicts and lists, keys included;
    numbers are turned into redacted strings only when their text contains a secret.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = {str(s) for s in secrets if s is not None}
        self.secrets = sorted((s for s in unique if _maskable(s)), key=len, reverse=True)
        # A secret can only show up in a JSON dump of an event as its own JSON-escaped text,
        # because JSON escapes character by character; that makes a cheap pre-check exact.
        self._escaped = [(s, json.dumps(s, ensure_ascii=False)[1:-1]) for s in self.secrets]

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def text(self, value: str, secrets: list[str] | None = None) -> str:
        """``value`` with every secret (of ``secrets``, default all) masked."""
        secrets = self.secrets if secrets is None else secrets
        spans: list[tuple[int, int]] = []
        for secret in secrets:
            start = value.find(secret)
            while start != -1:
                spans.append((start, start + len(secret)))
                start = value.find(secret, start + 1)
        if not spans:
            return value
        spans.sort()
        out, pos = [], 0
        run_start, run_end = spans[0]
        for start, end in spans[1:]:
            if start <= run_end:
                run_end = max(run_end, end)
                continue
            out.append(value[pos:run_start])
            out.append(MASK)
            pos = run_end
            run_start, run_end = start, end
        out.append(value[pos:run_start])
        out.append(MASK)
        out.append(value[run_end:])
        return "".join(out)

    def value(self, value: Any, secrets: list[str] | None = None) -> Any:
        """A redacted copy of a JSON-like value (dicts, lists, strings, numbers)."""
        secrets = self.secrets if secrets is None else secrets
        if isinstance(value, str):
            return self.text(value, secrets)
        if isinstance(value, dict):
            return {self.value(k, secrets): self.value(v, secrets) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v, secrets) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = str(value)
            masked = self.text(text, secrets)
            return value if masked == text else masked
        return value

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        """A redacted event; the same object when no secret can be in it (the usual case)."""
        if not self.secrets:
            return event
        try:
            blob = json.dumps(event, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return self.value(event)
        present = [s for s, escaped in self._escaped if escaped in blob]
        if not present:
            return event
        return self.value(event, present)


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """Convenience: ``value`` (a string or JSON-like structure) with ``secrets`` masked."""
    return Redactor(secrets).value(value)
