"""`charrnn write`, used the way a person uses it: through a pseudo-terminal, typing text,
commands, arrow keys, Ctrl-C and Ctrl-D, and reading the screen."""

import sys

import pytest

pexpect = pytest.importorskip("pexpect", reason="pexpect drives the pseudo-terminal")

PROMPT = "\r\n> "


@pytest.fixture
def writer(trained_run, tmp_path):
    child = pexpect.spawn(sys.executable, ["-m", "charrnn", "write", "--checkpoint",
                                           str(trained_run), "--prime", "ROMEO:", "--length",
                                           "30", "--temperature", "0"],
                          cwd=str(tmp_path), encoding="utf-8", timeout=60,
                          dimensions=(40, 200))
    child.expect("type text and press Enter")
    child.expect("> ")
    yield child
    child.close(force=True)


def shown_text(child) -> str:
    """The whole story, as /show prints it."""
    child.sendline("/show")
    child.expect(PROMPT)
    return child.before.split("\r\n", 1)[1].replace("\r\n", "\n")


def test_typed_text_is_continued_and_the_story_is_kept(writer):
    writer.sendline(r"\nJULIET:")
    writer.expect(PROMPT)
    first = shown_text(writer)
    assert first.startswith("ROMEO:\nJULIET:") and len(first) == len("ROMEO:\nJULIET:") + 30
    writer.sendline("")  # Enter alone: the model goes on from where it stopped
    writer.expect(PROMPT)
    assert shown_text(writer).startswith(first) and len(shown_text(writer)) == len(first) + 30


def test_commands_change_the_settings_and_bad_ones_are_one_line(writer):
    writer.sendline("/temperature hot")
    writer.expect(r"usage: /temperature T \(not 'hot'\)")
    writer.expect(PROMPT)
    writer.sendline("/temperature -1")
    writer.expect("error: /temperature must be")
    writer.sendline("/frobnicate")
    writer.expect(r"unknown command /frobnicate; /help lists them")
    writer.sendline("\u2603")
    writer.expect("never saw")
    writer.expect(PROMPT)
    assert shown_text(writer) == "ROMEO:"  # nothing typed wrongly reached the story
    writer.sendline("/length 5")
    writer.expect("length 5")
    writer.sendline("/help")
    writer.expect("/suggest")
    writer.expect(PROMPT)
    writer.sendline(" ")
    writer.expect(PROMPT)
    assert len(shown_text(writer)) == len("ROMEO: ") + 5


def test_suggest_then_pick_undo_reset_and_beam(writer):
    writer.sendline("/temperature 1")
    writer.expect(PROMPT)
    writer.sendline("/suggest 3")
    for i in (1, 2, 3):
        writer.expect(f"  {i}: ")
    writer.expect(r"pick 1-3 \(Enter: none\): ")
    writer.sendline("2")
    writer.expect(PROMPT)
    picked = shown_text(writer)
    assert picked.startswith("ROMEO:") and len(picked) > len("ROMEO:")
    writer.sendline("/undo")
    writer.expect("undid 1")
    writer.expect(PROMPT)
    assert shown_text(writer) == "ROMEO:"
    writer.sendline("/beam 4")
    writer.expect(r"\[beam 4: log-probability -?\d+\.\d+\]")
    writer.expect(PROMPT)
    assert len(shown_text(writer)) == len("ROMEO:") + 30
    writer.sendline("/reset")
    writer.expect("back to the prime")
    writer.expect(PROMPT)
    assert shown_text(writer) == "ROMEO:"


def test_arrow_keys_recall_history(writer):
    writer.sendline(" abc")
    writer.expect(PROMPT)
    writer.send("\x1b[A")  # up arrow: the line typed before
    writer.sendline("")
    writer.expect(PROMPT)
    assert shown_text(writer).count(" abc") >= 2


def test_ctrl_c_stops_a_generation_and_ctrl_d_leaves(writer, tmp_path):
    writer.sendline("/length 100000")
    writer.expect(PROMPT)
    writer.sendline(" ")
    writer.expect(r"(?s)\r\n.{400}")  # well into a long generation, still streaming
    writer.sendintr()
    writer.expect(r"\[stopped\]")
    writer.expect(PROMPT)
    kept = shown_text(writer)
    assert 10 < len(kept) < 100000  # what was shown is kept
    writer.sendline("/save story.txt")
    writer.expect("saved")
    writer.expect(PROMPT)
    assert (tmp_path / "story.txt").read_text(encoding="utf-8") == kept
    (tmp_path / "other.txt").write_text("mine")
    writer.sendline("/save other.txt")
    writer.expect("exists and was not written by this session")
    assert (tmp_path / "other.txt").read_text() == "mine"
    writer.sendeof()
    writer.expect(pexpect.EOF)
    writer.close()
    assert writer.exitstatus == 0


def test_stop_top_k_top_p_then_quit(writer):
    writer.sendline(r"/stop \n")
    writer.expect(r"stop \['\\n'\]")
    writer.sendline("/top-k 3")
    writer.expect("top_k 3")
    writer.sendline("/top-p 0.9")
    writer.expect("top_p 0.9")
    writer.sendline("/top-p 2")
    writer.expect("error: /top-p")
    writer.expect(PROMPT)
    writer.sendline(r"\nJULIET:")
    writer.expect(PROMPT)
    text = shown_text(writer)
    assert text.startswith("ROMEO:\nJULIET:")  # the continuation ended at its first line break
    assert "\n" not in text[len("ROMEO:\nJULIET:"):-1] and len(text) <= len("ROMEO:\nJULIET:") + 30
    writer.sendline("/quit")
    writer.expect(pexpect.EOF)
    writer.close()
    assert writer.exitstatus == 0


def test_it_starts_and_writes_where_python_has_no_readline(trained_run, tmp_path):
    """As on Windows: no line editing or history, the session otherwise as usual."""
    without = ("import sys; sys.modules['readline'] = None  # `import readline` fails\n"
               "from charrnn.interface.cli import main; main()")
    child = pexpect.spawn(sys.executable, ["-c", without, "write", "--checkpoint",
                                           str(trained_run), "--prime", "ROMEO:", "--length",
                                           "10", "--temperature", "0"],
                          cwd=str(tmp_path), encoding="utf-8", timeout=60, dimensions=(40, 200))
    child.expect("type text and press Enter")
    child.expect("> ")
    child.sendline(r"\nJULIET:")
    child.expect(PROMPT)
    assert shown_text(child).startswith("ROMEO:\nJULIET:")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
