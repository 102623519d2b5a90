"""What the job commands (``manage.py plan``, ``manage.py launch``) share: reading the cloud and the
``--param KEY=VALUE`` options, turning a refusal into an error that names the field, and the plan
preview as text."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from apps.clouds.models import Cloud
from runner.planner import KINDS


def get_user(username: str):
    """The active user called ``username``, or an error naming ``user``."""
    from django.contrib.auth import get_user_model

    actor = get_user_model().objects.filter(username=username, is_active=True).first()
    if actor is None:
        raise CommandError(f"user: no active user named {username!r}", returncode=2)
    return actor


def get_cloud(slug: str) -> Cloud:
    """The cloud called ``slug``, or an error naming ``cloud``."""
    cloud = Cloud.objects.select_related("release").filter(slug=slug).first()
    if cloud is None:
        raise CommandError(f"cloud: no cloud named {slug!r}", returncode=2)
    return cloud


def parse_params(items: Iterable[str], kind: str, to: str | None = None) -> dict[str, Any]:
    """``KEY=VALUE`` options as job parameters; ``to`` is the release to reach (or deploy).

    A value that reads as a JSON object or list (the lab's failure injection) is taken as one.
    """
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"param: {item!r} is not KEY=VALUE", returncode=2)
        if value.startswith(("{", "[")):
            try:
                params[key] = json.loads(value)
                continue
            except ValueError:
                raise CommandError(f"{key}: {value!r} is not valid JSON", returncode=2) from None
        params[key] = value
    if to:
        names = {p.name for p in KINDS[kind].params} if kind in KINDS else set()
        params["target_release" if "target_release" in names else "release"] = to
    return params


def refusal(exc: ValidationError) -> CommandError:
    """A ValidationError as a command error: each field named with its reason."""
    if hasattr(exc, "message_dict"):
        reasons = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    else:
        reasons = " ".join(exc.messages)
    return CommandError(reasons, returncode=2)


def preview_text(preview: dict) -> str:
    """The plan preview as an operator reads it: the hops, the hash, each step and its command."""
    hops = " → ".join([preview["from"] or "nothing", *(h["to"] for h in preview["hops"])])
    estimate = preview["estimated_seconds"]
    lines = [
        f"{preview['kind']} on {preview['cloud']}: {hops if preview['hops'] else preview['to'] or '-'}",
        f"plan hash {preview['hash']}",
        f"estimated {estimate:.0f} s from past runs" if estimate is not None else "no estimate: no past runs",
        *(f"warning: {warning}" for warning in preview["warnings"]),
        "",
    ]
    for number, step in enumerate(preview["steps"], 1):
        gate = "  [gate: waits for a person]" if step["gate"] else ""
        lines.append(f"{number:2}. {step['name']}{gate}")
        lines.append(f"    {step['command']}")
    return "\n".join(lines)
