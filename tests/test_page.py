"""The writing page in a real browser: Debian's headless Chromium driven by Playwright
(nothing downloads a browser), against `charrnn serve`'s app on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import time

import pytest

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="needs Playwright (pip install -e '.[dev]')")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def selected(page) -> str:
    return page.evaluate("() => { const t = document.getElementById('text');"
                         " return t.value.slice(t.selectionStart, t.selectionEnd); }")


def value(page) -> str:
    return page.evaluate("() => document.getElementById('text').value")


def test_tab_suggests_inline_arrows_choose_tab_accepts_esc_dismisses(lm, charrnn_server,
                                                                     browser, tmp_path):
    with charrnn_server(lm) as url:
        page = browser.new_page(viewport={"width": 1000, "height": 640})
        page.goto(url)
        page.wait_for_function("document.getElementById('model').textContent"
                               ".includes('parameters')")
        assert f"lstm 1×{lm.model.config.hidden_size}" in page.inner_text("#model")
        page.click("#text")
        page.keyboard.type("ROMEO:\n")
        page.keyboard.press("Tab")
        page.wait_for_function("document.getElementById('status').textContent"
                               ".startsWith('suggestion 1 of')")
        first = selected(page)
        assert first and value(page) == "ROMEO:\n" + first  # shown inline, selected
        count = int(page.inner_text("#status").split(" of ")[1].split(":")[0])
        page.keyboard.press("ArrowDown")
        assert page.inner_text("#status").startswith(f"suggestion {min(2, count)} of")
        chosen = selected(page)
        assert value(page) == "ROMEO:\n" + chosen and (count == 1 or chosen != first)
        page.screenshot(path=str(tmp_path / "suggestion.png"))
        page.keyboard.press("Tab")  # taken: the cursor goes after it
        assert value(page) == "ROMEO:\n" + chosen and selected(page) == ""
        assert page.evaluate("document.getElementById('text').selectionStart") == len(
            "ROMEO:\n" + chosen)
        page.keyboard.press("Tab")
        page.wait_for_function("document.getElementById('status').textContent"
                               ".startsWith('suggestion 1 of')")
        assert value(page).startswith("ROMEO:\n" + chosen) and selected(page)
        page.keyboard.press("Escape")  # dismissed: the text is what it was
        assert value(page) == "ROMEO:\n" + chosen and selected(page) == ""
        before = value(page)
        page.click("#continue")
        page.wait_for_function("document.getElementById('status').textContent === 'done'",
                               timeout=20_000)
        after = value(page)
        assert after.startswith(before) and 0 < len(after) - len(before) <= 400
        assert os.path.getsize(tmp_path / "suggestion.png") > 10_000


def suggestions_for(page, url: str, typed: str) -> None:
    """Open the page once the model is shown, type, press Tab, wait for suggestions."""
    page.goto(url)
    page.wait_for_function("document.getElementById('model').textContent"
                           ".includes('parameters')")
    page.click("#text")
    page.keyboard.type(typed)
    page.keyboard.press("Tab")
    page.wait_for_function("document.getElementById('status').textContent"
                           ".startsWith('suggestion 1 of')")


def test_the_page_sends_no_more_prime_than_the_server_takes(lm, charrnn_server, browser):
    with charrnn_server(lm, max_prime=12) as url:  # a longer prime would be a 413
        suggestions_for(browser.new_page(), url, "ROMEO:\nO that I were a glove upon that\n")


def test_unknown_characters_are_reported_and_do_not_stop_suggestions(lm, charrnn_server,
                                                                      browser):
    with charrnn_server(lm) as url:
        page = browser.new_page()
        suggestions_for(page, url, "Ωmega")
        status = page.inner_text("#status")
        assert "the model never saw: 'Ω'" in status and "(left out)" in status
        assert page.evaluate("() => document.getElementById('status').className") == ""
        assert value(page).startswith("Ωmega") and len(value(page)) > len("Ωmega")


def test_the_page_asks_for_the_api_key(lm, charrnn_server, browser):
    key = "a key for the page"
    with charrnn_server(lm, api_key=key) as url:
        page = browser.new_page()
        asked = []
        page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept(key)))
        suggestions_for(page, url, "JULIET")
    assert asked == ["This server needs its API key:"]


def test_continue_streams_and_can_be_stopped_while_it_waits(lm, charrnn_server, browser):
    import httpx

    with charrnn_server(lm, max_batch=1, max_samples=1, max_length=100_000) as url:
        page = browser.new_page()
        page.goto(url)
        page.evaluate("document.getElementById('text').value = 'NURSE:'")
        with httpx.stream("POST", url + "/v1/sample", timeout=30,
                          json={"length": 100_000, "stream": True}) as other:
            lines = other.iter_lines()  # kept: a dropped iterator closes the connection
            next(lines)  # the only row is taken: the page's request waits
            page.click("#continue")
            assert page.inner_text("#continue") == "stop"
            page.wait_for_function("document.getElementById('status').textContent"
                                   " === 'writing…'")
            page.click("#continue")
            page.wait_for_function("document.getElementById('status').textContent"
                                   " === 'stopped'")
        assert page.inner_text("#continue") == "continue"
        assert page.evaluate("document.getElementById('text').value") == "NURSE:"
        deadline = time.monotonic() + 10
        while httpx.get(url + "/health").json() != {"status": "ok", "rows": 0, "priming": 0,
                                                     "waiting": 0}:
            assert time.monotonic() < deadline
            time.sleep(0.02)


def test_a_labelled_models_page_offers_its_styles_and_writes_in_the_one_picked(
        lm, charrnn_server, browser, tmp_path):
    import json

    import charrnn

    for name, line in (("alice", "the roses are red.\n"), ("bob", "NO TIME AT SIX!\n")):
        (tmp_path / "letters" / name).mkdir(parents=True)
        for i in range(2):
            (tmp_path / "letters" / name / f"{i}.txt").write_text(line * 30)
    charrnn.train(str(tmp_path / "letters"), label_from="dirname", steps=40, hidden_size=32,
                  embed_size=8, batch_size=4, seq_len=16, lr=1e-2, out=tmp_path / "run")
    labelled = charrnn.load(tmp_path / "run")
    with charrnn_server(lm) as url:  # a model without labels: no picker
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("document.getElementById('model').textContent"
                               ".includes('parameters')")
        assert not page.is_visible("#label-picker")
    with charrnn_server(labelled) as url:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("document.getElementById('model').textContent"
                               ".includes('parameters')")
        assert page.is_visible("#label-picker")
        shown = page.eval_on_selector_all("#label option", "els => els.map(e => e.value)")
        assert shown == ["alice", "bob"]
        page.select_option("#label", "bob")
        sent = []
        page.on("request", lambda r: sent.append(r) if "/v1/sample" in r.url else None)
        page.click("#continue")
        page.wait_for_function("document.getElementById('status').textContent === 'done'",
                               timeout=20_000)
        assert json.loads(sent[0].post_data)["label"] == "bob"


# --- constraints and next words (issue 38), on the golden a-z model ----------------------

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "golden", "lstm-1-char.safetensors")


@pytest.fixture(scope="module")
def golden_page(charrnn_server, browser):
    """A page of the golden a-z model's server, its model shown and its next words in."""
    import charrnn

    with charrnn_server(charrnn.load(GOLDEN), max_batch=4) as url:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("document.querySelectorAll('#next-words button').length > 0")
        yield page
        page.close()


def whole_words(text: str) -> list[str]:
    import re

    return re.findall(r"[a-z0-9']+", text)


def test_the_pages_constraints_hold_in_what_it_writes(golden_page):
    import json

    page = golden_page
    page.evaluate("document.getElementById('text').value = ''")
    page.click("#constraints summary")
    page.fill("input[name=include]", "cat")
    page.fill("input[name=ban_chars]", "e")
    assert page.inner_text("#constraints-set") == "(2 set)"
    sent = []
    page.on("request", lambda r: sent.append(r) if "/v1/sample" in r.url else None)
    page.click("#continue")
    page.wait_for_function("document.getElementById('status').textContent === 'done'",
                           timeout=20_000)
    written = value(page)
    assert "cat" in whole_words(written) and "e" not in written, written
    body = json.loads(sent[0].post_data)
    assert body["include"] == ["cat"] and body["ban_chars"] == "e"
    page.click("#text")
    page.keyboard.press("End")
    page.keyboard.press("Tab")  # suggestions keep to them too
    page.wait_for_function("document.getElementById('status').textContent"
                           ".startsWith('suggestion 1 of')")
    assert "cat" in whole_words(selected(page)) and "e" not in selected(page)
    page.keyboard.press("Escape")
    page.click("button[type=reset]")


def test_new_words_and_particles_are_sent_and_a_bad_count_is_marked(golden_page):
    """The share of new words and the particle count travel with the constraints (alone
    they send nothing); what the server refuses is marked at its field (this model keeps
    no word list, so words_only is refused)."""
    import json

    page = golden_page
    page.evaluate("document.getElementById('text').value = 'the '")
    page.evaluate("document.getElementById('constraints').open = true")
    page.fill("input[name=particles]", "4")
    assert page.inner_text("#constraints-set") == ""  # how, not what: nothing set yet
    page.check("input[name=words_only]")
    page.fill("input[name=new_words]", "0.1")
    assert page.inner_text("#constraints-set") == "(1 set)"
    sent = []
    page.on("request", lambda r: sent.append(r) if "/v1/sample" in r.url else None)

    def refused(at: str) -> str:
        page.click("#continue")
        page.wait_for_function("document.getElementById('status').className === 'error'")
        assert page.get_attribute(f"input[name={at}]", "aria-invalid") == "true"
        return page.inner_text("#status")

    assert "words_only needs the words of the model's corpus" in refused("words_only")
    body = json.loads(sent[-1].post_data)
    assert (body["words_only"], body["new_words"], body["particles"]) == (True, 0.1, 4), body
    page.uncheck("input[name=words_only]")
    page.fill("input[name=new_words]", "")
    page.fill("input[name=include]", "cat")
    page.click("#continue")
    page.wait_for_function("document.getElementById('status').textContent === 'done'",
                           timeout=20_000)
    assert json.loads(sent[-1].post_data)["particles"] == 4
    page.fill("input[name=particles]", "2000")
    assert "particles must be between 1 and 1,024" in refused("particles")
    page.click("button[type=reset]")


def test_a_bad_pattern_shows_its_error_at_its_field(golden_page):
    page = golden_page
    page.evaluate("document.getElementById('constraints').open = true")
    page.fill("input[name=pattern]", "(ab")
    page.click("#continue")
    page.wait_for_function("document.getElementById('status').className === 'error'")
    assert "pattern" in page.inner_text("#status")
    assert "not a valid regular expression" in page.inner_text("#status")
    assert page.get_attribute("input[name=pattern]", "aria-invalid") == "true"
    page.fill("input[name=pattern]", "")  # mended: unmarked
    assert page.get_attribute("input[name=pattern]", "aria-invalid") is None


def test_a_suggested_next_word_is_inserted_when_clicked(golden_page):
    page = golden_page
    page.evaluate("document.getElementById('text').value = ''")
    page.click("#text")
    page.keyboard.type("the ca")  # inside a word: its completions, whole
    page.wait_for_function("(b => b.length && b.every(b => b.textContent.startsWith('ca')))"
                           "([...document.querySelectorAll('#next-words button')])")
    first = page.locator("#next-words button").first
    word = first.evaluate("b => b.firstChild.textContent")
    assert first.get_attribute("aria-label").startswith(f"{word}, ")
    assert first.inner_text().endswith("%")
    first.click()
    assert value(page) == f"the {word} "
    assert page.evaluate("document.getElementById('text').selectionStart") == len(f"the {word} ")
