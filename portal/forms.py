"""Form pieces every app's edit forms share: multi-line text that round-trips as it was stored."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models


def lf_line_endings(text: str) -> str:
    """``text`` with CRLF and lone CR line breaks turned into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class TextareaField(forms.CharField):
    """Multi-line text (YAML, notes) kept as typed: no stripping, and LF line breaks.

    Browsers send a textarea's line breaks as CRLF whatever the page showed; stripping would drop a
    file's final newline.
    """

    widget = forms.Textarea

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        return lf_line_endings(super().to_python(value))

    def has_changed(self, initial: Any, data: Any) -> bool:
        return lf_line_endings(initial or "") != self.to_python(data)


class KeepsUnchangedText:
    """Mixin for edit forms: a ``TextareaField`` the user did not change keeps its stored text byte for
    byte (CRLF line breaks and all), since what the browser sent back differs only in line breaks.
    """

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name, field in self.fields.items():
            initial = self.get_initial_for_field(field, name)
            if isinstance(field, TextareaField) and name in data and initial is not None:
                data[name] = data[name] if name in self.changed_data else initial
        return data


class EditModelForm(KeepsUnchangedText, forms.ModelForm):
    """The admin site's model form: text fields nobody changed are saved back as they were stored."""


# For a ModelAdmin's ``formfield_overrides``: text columns become ``TextareaField``s.
MULTILINE_TEXT = {models.TextField: {"form_class": TextareaField}}
