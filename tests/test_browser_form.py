"""The browser stand-in posts what a browser would, quirks included."""

from tests.browser_form import browser_submission

PAGE = """<form id="logout" method="post"><input type="hidden" name="csrfmiddlewaretoken" value="t"></form>
<form id="edit" method="post">
<input type="text" name="slug" value="demo">
<select name="release"><option value="">(none)</option><option value="2025.1">2025.1</option></select>
<select name="groups" multiple><option value="1" selected>a</option><option value="2">b</option></select>
<input type="checkbox" name="flagged"><input type="checkbox" name="slurp" checked>
<input type="text" name="off" value="x" disabled>
<textarea name="notes">
first &amp; second
third</textarea>
<button type="submit" name="_save">Save</button><input type="submit" name="_continue" value="Go on">
</form>"""


def test_posts_first_option_crlf_text_and_only_the_pressed_button():
    assert browser_submission(PAGE, field="slug") == [
        ("slug", "demo"),
        ("release", ""),
        ("groups", "1"),
        ("slurp", "on"),
        ("notes", "first & second\r\nthird"),
        ("_save", ""),
    ]


def test_finds_a_form_by_id_and_presses_the_named_button():
    pairs = browser_submission(PAGE, form={"id": "edit"}, submit="_continue")
    assert ("_continue", "Go on") in pairs and ("_save", "") not in pairs
