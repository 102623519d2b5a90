"""Masking secrets in events."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.redact import MASK, Redactor, redact


def test_masks_whole_values_and_values_inside_longer_strings() -> None:
    r = Redactor(["hunter2"])
    assert r.text("hunter2") == MASK
    assert r.text("password=hunter2;") == f"password={MASK};"
    assert r.text("hunter2hunter2 and hunter2") == f"{MASK} and {MASK}"
    assert r.text("nothing here") == "nothing here"


def test_overlapping_secrets_leave_no_fragment() -> None:
    r = Redactor(["abcd", "cdef", "xy"])
    assert r.text("--abcdef--") == f"--{MASK}--"
    assert r.text("abcdxycdef") == MASK
    assert r.text("bcd") == "bcd"


def test_nested_structures_keys_and_numbers() -> None:
    r = Redactor(["s3cr3t", "424242"])
    value = {
        "stdout": "login with s3cr3t",
        "event_data": {
            "res": {"msg": ["a", {"deep": "xs3cr3tx"}], "pin": 4242421, "count": 3, "ok": True},
            "s3cr3t": None,
        },
    }
    assert r.value(value) == {
        "stdout": f"login with {MASK}",
        "event_data": {
            "res": {"msg": ["a", {"deep": f"x{MASK}x"}], "pin": f"{MASK}1", "count": 3, "ok": True},
            MASK: None,
        },
    }


def test_event_without_secrets_is_returned_as_is() -> None:
    event = {"stdout": "ok: [ctl1]", "event_data": {"host": "ctl1"}}
    assert Redactor(["s3cr3t"]).event(event) is event
    assert Redactor([]).event(event) is event


def test_secrets_with_characters_json_escapes_are_found() -> None:
    for secret in ('quo"te', "back\\slash", "new\nline", "tab\tand unicodé ✓", "\x01ctl"):
        event = {"stdout": f"value: {secret}!", "event_data": {"res": {"msg": [f"<{secret}>"]}}}
        redacted = Redactor([secret]).event(event)
        assert redacted == {"stdout": f"value: {MASK}!", "event_data": {"res": {"msg": [f"<{MASK}>"]}}}


def test_empty_and_mask_only_secrets_are_ignored() -> None:
    r = Redactor(["", "****", "real"])
    assert r.secrets == ["real"]
    assert r.text("a ****real") == f"a ****{MASK}"
    assert Redactor(["pa*ss"]).text("x pa*ss y") == f"x {MASK} y"


def test_module_helper() -> None:
    assert redact(["pw", {"k": "my pw"}], ["pw"]) == [MASK, {"k": f"my {MASK}"}]


# Secrets with '*' are left out: a mask next to one could form a new occurrence that was never there.
secret_text = st.text(min_size=1, max_size=12).filter(lambda s: "*" not in s)
filler = st.text(max_size=20)


@settings(max_examples=300, deadline=None)
@given(secrets=st.lists(secret_text, min_size=1, max_size=5), data=st.data())
def test_no_secret_substring_survives_in_text(secrets: list[str], data: st.DataObject) -> None:
    parts = data.draw(st.lists(st.one_of(filler, st.sampled_from(secrets)), max_size=12))
    text = "".join(parts)
    out = Redactor(secrets).text(text)
    for secret in secrets:
        assert secret not in out


@settings(max_examples=200, deadline=None)
@given(secrets=st.lists(secret_text, min_size=1, max_size=4), data=st.data())
def test_no_secret_substring_survives_anywhere_in_an_event(secrets: list[str], data: st.DataObject) -> None:
    strings = st.lists(st.one_of(filler, st.sampled_from(secrets)), max_size=6).map("".join)
    json_values = st.recursive(
        st.one_of(strings, st.integers(), st.booleans(), st.none()),
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(strings, children, max_size=4)
        ),
        max_leaves=20,
    )
    event = {"stdout": data.draw(strings), "event_data": data.draw(json_values)}
    out = Redactor(secrets).event(event)

    def strings_of(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for k, v in value.items() for s in (*strings_of(k), *strings_of(v))]
        if isinstance(value, list):
            return [s for v in value for s in strings_of(v)]
        return [str(value)] if isinstance(value, int) and not isinstance(value, bool) else []

    for text in strings_of(out):
        for secret in secrets:
            assert secret not in text
    # The event stays JSON-serialisable.
    json.dumps(out)


@settings(max_examples=200, deadline=None)
@given(secrets=st.lists(secret_text, min_size=1, max_size=4), text=filler)
def test_text_without_secrets_is_unchanged(secrets: list[str], text: str) -> None:
    if not any(s in text for s in secrets):
        assert Redactor(secrets).text(text) == text
