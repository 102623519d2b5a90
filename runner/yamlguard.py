"""Load YAML only once it is known to be small, shallow and free of alias bombs.

libyaml's composer recurses once per nesting level, so a document of 50,000 nested brackets
overflows the C stack and kills the process; PyYAML's pure-Python composer raises RecursionError
much earlier but only after seconds of work. Aliases let a few hundred bytes stand for a million
values, which cost nothing to load but everything to store, render or hand to Ansible.

`load_yaml` therefore walks the event stream first (libyaml's parser keeps its own stack and does
not recurse), counting nesting depth and the number of values the document stands for with every
alias expanded, and refuses it there; only a document within the limits reaches the loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlLimits:
    """How large a YAML document may be: bytes, nesting depth, and values once aliases are expanded."""

    max_bytes: int = 8 * 2**20
    # kolla-ansible's own globals and group_vars nest a handful of levels.
    max_depth: int = 64
    # A large globals.yml or passwords.yml holds a few thousand values.
    max_values: int = 100_000


class YamlLimitError(ValueError):
    """A document refused before it was loaded: MESSAGE says which limit, LINE where (1-based)."""

    def __init__(self, message: str, line: int | None = None):
        self.message = message
        self.line = line
        super().__init__(f"{message} (line {line})" if line else message)


def check_yaml(text: str, limits: YamlLimits = YamlLimits()) -> None:
    """Raise YamlLimitError if TEXT breaks LIMITS, yaml.YAMLError if it is not YAML at all."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise YamlLimitError(f"is {size:,} bytes; at most {limits.max_bytes:,} are accepted")
    nul = text.find("\0")
    if nul >= 0:
        raise YamlLimitError("holds a NUL byte", text.count("\n", 0, nul) + 1)
    # Each open collection is [values so far, anchor]; `done` maps an anchor to the values of its
    # finished node. An alias to a node still open would make the document contain itself.
    stack: list[list[Any]] = [[0, None]]
    done: dict[str, int] = {}
    total = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(stack) > limits.max_depth:
                raise YamlLimitError(
                    f"is nested deeper than {limits.max_depth} levels", event.start_mark.line + 1
                )
            stack.append([1, event.anchor])
            total += 1
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            count, anchor = stack.pop()
            stack[-1][0] += count
            if anchor is not None:
                done[anchor] = count
        elif isinstance(event, yaml.ScalarEvent):
            if "\0" in event.value:
                raise YamlLimitError("holds a NUL byte", event.start_mark.line + 1)
            stack[-1][0] += 1
            total += 1
            if event.anchor is not None:
                done[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in done:
                raise YamlLimitError(
                    f"has an alias *{event.anchor} to no finished node (undefined, or one that contains it)",
                    event.start_mark.line + 1,
                )
            stack[-1][0] += done[event.anchor]
            total += done[event.anchor]
        else:
            continue
        if total > limits.max_values:
            raise YamlLimitError(
                f"stands for more than {limits.max_values:,} values once its aliases are expanded",
                event.start_mark.line + 1,
            )


def load_yaml(text: str, limits: YamlLimits = YamlLimits()) -> Any:
    """TEXT loaded safely, after `check_yaml`; raises YamlLimitError or yaml.YAMLError."""
    check_yaml(text, limits)
    return yaml.load(text, Loader=_Loader)
