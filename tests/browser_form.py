"""What a browser submits for a rendered form when the user changes nothing.

Django's test client posts whatever a test hands it; a browser posts what the page rendered, after
the HTML parser and form submission have had their way with it: a select with no selected option
submits its first option, a textarea loses one leading newline and sends every line break as CRLF,
an unticked checkbox sends nothing. Edit forms must survive that round trip unchanged.
"""

from __future__ import annotations

from html.parser import HTMLParser

SUBMIT_TYPES = {"submit", "image"}
SKIPPED_TYPES = {"button", "reset", "file"}
# Inputs whose value sanitisation removes line breaks (HTML, "value sanitization algorithm").
ONE_LINE_TYPES = {"text", "search", "tel", "password", "url", "email"}


def _lf(text: str) -> str:
    """The HTML parser's input stream turns CRLF and lone CR into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _crlf(text: str) -> str:
    """Form submission sends every line break as CRLF."""
    return _lf(text).replace("\n", "\r\n")


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._textarea: list | None = None
        self._select: dict | None = None
        self._option: list | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: "" if v is None else _lf(v) for k, v in attrs}
        if tag == "form":
            self._form = {"attrs": a, "controls": []}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag in ("input", "button"):
            self._form["controls"].append((tag, a, None))
        elif tag == "textarea":
            self._textarea = [a, ""]
        elif tag == "select":
            self._select = {"attrs": a, "options": []}
        elif tag == "option" and self._select is not None:
            self._option = [a, ""]
            self._select["options"].append(self._option)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1] += data
        elif self._option is not None:
            self._option[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea is not None:
            attrs, text = self._textarea
            text = _lf(text)
            # The parser drops one newline right after <textarea> (Django renders one there).
            self._form["controls"].append(("textarea", attrs, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None:
            self._form["controls"].append(("select", self._select["attrs"], self._select["options"]))
            self._select = None


def browser_submission(
    html: str, *, field: str | None = None, form: dict[str, str] | None = None, submit: str | None = None
) -> list[tuple[str, str]]:
    """The (name, value) pairs a browser posts for the first form of ``html`` whose attributes
    include ``form`` (``{"id": "cloud_form"}``), or else that holds a control named ``field``.

    ``submit`` names the submit button pressed; without it, the form's first submit button (the
    one Enter presses) is used.
    """
    parser = _Forms()
    parser.feed(html)
    parser.close()
    chosen = next(
        f
        for f in parser.forms
        if (form is not None and form.items() <= f["attrs"].items())
        or (form is None and any(c[1].get("name") == field for c in f["controls"]))
    )
    pairs: list[tuple[str, str]] = []
    submitter_used = False
    for tag, attrs, content in chosen["controls"]:
        name = attrs.get("name")
        kind = attrs.get("type", "submit" if tag == "button" else "text").lower()
        if not name or "disabled" in attrs:
            continue
        if tag in ("input", "button") and kind in SUBMIT_TYPES:
            if not submitter_used and (submit is None or submit == name):
                pairs.append((name, attrs.get("value", "")))
                submitter_used = True
        elif tag == "input":
            if kind in SKIPPED_TYPES:
                continue
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    pairs.append((name, attrs.get("value", "on")))
                continue
            value = attrs.get("value", "")
            pairs.append((name, value.replace("\n", "") if kind in ONE_LINE_TYPES else value))
        elif tag == "textarea":
            pairs.append((name, content))
        elif tag == "select":
            options = [o for o in content if "disabled" not in o[0]]
            chosen = [o for o in options if "selected" in o[0]]
            if not chosen and "multiple" not in attrs and options:
                chosen = options[:1]  # a one-line select shows, and submits, its first option
            if "multiple" not in attrs:
                chosen = chosen[-1:]
            pairs += [(name, o[0].get("value", " ".join(o[1].split()))) for o in chosen]
    return [(name, _crlf(value)) for name, value in pairs]


def as_post_data(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """``pairs`` as the test client's post data (every name may repeat)."""
    data: dict[str, list[str]] = {}
    for name, value in pairs:
        data.setdefault(name, []).append(value)
    return data


def browsable_api_put(client, url: str, *, raw: bool = False):
    """PUT ``url`` from the browsable API's page as rendered: its HTML form, or its raw data form."""
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    page = client.get(url, HTTP_ACCEPT="text/html").content.decode()
    if raw:
        data = dict(browser_submission(page, field="_content"))
        return client.put(url, data["_content"], content_type=data["_content_type"])
    pairs = browser_submission(page, form={"data-method": "PUT", "enctype": "multipart/form-data"})
    return client.put(url, encode_multipart(BOUNDARY, as_post_data(pairs)), content_type=MULTIPART_CONTENT)
