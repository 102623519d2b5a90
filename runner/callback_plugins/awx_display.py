"""ansible-runner's ``awx_display`` stdout callback, with each event's data in its stdout marker.

ansible-runner runs every step with ``ANSIBLE_STDOUT_CALLBACK=awx_display`` and appends its own
callback directory to ``ANSIBLE_CALLBACK_PLUGINS``; ``runner.execute`` puts this directory first, so
Ansible loads this plugin under that name. It is ansible-runner's own callback (loaded from the file
``FERRY_AWX_DISPLAY`` names) with three changes that leave every event as it was and make each
cheaper for the playbook's main process, which runs every callback:

- ansible-runner's callback writes each event's data to a file, prints a base64 marker holding only
  the event's uuid before the event's output, and ansible-runner reads the file back and removes it.
  Here the marker holds the whole event. ansible-runner's output filter decodes it the same way,
  finds no file to merge (which it allows) and goes on with what the marker held. No file is
  written, read or removed per event, and the event's data never touches a filesystem.
- ``Display.debug`` enters the callback's event context only when debugging is on. Ansible calls
  it thousands of times per play (variable manager, play iterator) and it shows nothing otherwise,
  but the callback wrapped every call in a context manager.
- The wrappers of ``Display.display`` and ``Display.verbose`` read each call's arguments by name
  without ``inspect.Signature.bind``.

Each change saves CPU in the playbook's busiest process (docs/benchmarks.md, "Job overhead").

This runs inside ansible-playbook, in whichever virtualenv runs the step (a kolla-ansible one too):
it may import only the standard library and Ansible.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import inspect
import os
import sys
from types import ModuleType
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.utils.display import Display

DOCUMENTATION = """
    callback: awx_display
    short_description: ansible-runner's event callback, each event's data in its stdout marker
    description:
        - ansible-runner's awx_display callback, whose stdout markers carry whole events
    type: stdout
    extends_documentation_fragment:
      - default_callback
"""

_BASE = "ferry_ansible_runner_awx_display"


def _load_base() -> ModuleType:
    """ansible-runner's awx_display module, loaded once under a name of its own."""
    if _BASE in sys.modules:
        return sys.modules[_BASE]
    path = os.environ.get("FERRY_AWX_DISPLAY")
    if not path or not os.path.isfile(path):
        raise AnsibleError(
            f"FERRY_AWX_DISPLAY must name ansible-runner's awx_display.py (got {path!r}); "
            "Ferry's runner sets it for every step"
        )
    spec = importlib.util.spec_from_file_location(_BASE, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_BASE] = module
    spec.loader.exec_module(module)  # wraps Display's methods, as loading the plugin itself would
    return module


_base = _load_base()
_encode = _base.AnsibleJSONEncoderLocal().encode  # what ansible-runner's callback writes its files with


def _dump_begin(self: Any, fileobj: Any) -> None:
    """Print the marker that opens an event, holding the whole event (ansible-runner's format)."""
    data = base64.b64encode(_encode(self.get_begin_dict()).encode("utf-8")).decode("ascii")
    with self.display_lock:
        fileobj.write(f"\x1b[K{data}\x1b[{len(data)}D\x1b[K")


_base.EventContext.dump_begin = _dump_begin

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_layouts: dict[int, tuple[inspect.Signature, tuple[str, ...], dict[str, Any]] | None] = {}
_bind = _base._getcallargs


def _layout(sig: inspect.Signature) -> tuple[inspect.Signature, tuple[str, ...], dict[str, Any]] | None:
    """The positional names and the defaults of a signature; None if it takes ``*args`` or ``**kwargs``."""
    params = sig.parameters.values()
    if any(p.kind in _VARIADIC for p in params):
        return None
    names = tuple(p.name for p in params if p.kind in _POSITIONAL)
    return sig, names, {p.name: p.default for p in params if p.default is not p.empty}


def _callargs(sig: inspect.Signature, *args: Any, **kwargs: Any) -> Any:
    """The arguments of a display call by name, as inspect's bind gives them, without binding.

    The callback wraps ``Display.display`` and ``Display.verbose`` to read ``log_only``, ``stderr``,
    ``host`` and ``caplevel`` from each call; inspect's bind cost more than the rest of the wrapper.
    Each signature (the callback caches them) is read once and kept, so its id stays its own. A call
    that does not fit raises, as before, when the wrapped method is called with the same arguments.
    """
    try:
        layout = _layouts[id(sig)]
    except KeyError:
        layout = _layouts[id(sig)] = _layout(sig)
    if layout is None:
        return _bind(sig, *args, **kwargs)
    bound = dict(layout[2])
    bound.update(zip(layout[1], args, strict=False))  # the defaults stand for what is not given
    bound.update(kwargs)
    return bound


_base._getcallargs = _callargs

_debug = getattr(Display.debug, "__wrapped__", None)  # Ansible's own, inside the callback's wrapper
if _debug is not None:

    @functools.wraps(_debug)
    def _debug_when_on(self: Display, msg: str, host: str | None = None) -> None:
        if not C.DEFAULT_DEBUG:  # Ansible's own test: nothing is shown
            return
        with _base.event_context.set_local(debug=True):
            _debug(self, msg, host=host)

    Display.debug = _debug_when_on  # type: ignore[method-assign]


class CallbackModule(_base.CallbackModule):
    """ansible-runner's callback; only its transport above differs."""
