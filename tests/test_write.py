"""`charrnn write`, used the way a person uses it: through a pseudo-terminal, typing text,
commands, arrow keys, Ctrl-C and Ctrl-D, and reading the screen."""

import re
import sys
from pathlib import Path

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


# --- constraints and next words, on the small golden a-z model (one session for all) ------

GOLDEN = Path(__file__).parent / "data" / "golden" / "lstm-1-char.safetensors"
PRIME = "the "


@pytest.fixture(scope="module")
def golden_writer(tmp_path_factory):
    """`charrnn write` on the golden model (vocabulary "\\n .a-z"), greedy, 30 characters a
    continuation; shared by the tests below, each of which starts with no constraints."""
    child = pexpect.spawn(sys.executable, ["-m", "charrnn", "write", "--checkpoint", str(GOLDEN),
                                           "--prime", PRIME, "--length", "30",
                                           "--temperature", "0"],
                          cwd=str(tmp_path_factory.mktemp("write")), encoding="utf-8",
                          timeout=60, dimensions=(40, 200))
    child.expect("type text and press Enter")
    child.expect("> ")
    yield child
    child.close(force=True)


@pytest.fixture
def plain(golden_writer):
    """The shared session with no constraints and 30 characters a continuation, its
    story back at the prime."""
    for command in ("/constraints off", "/length 30", "/reset"):
        golden_writer.sendline(command)
        golden_writer.expect(PROMPT)
    return golden_writer


def command(child, line: str) -> str:
    """What `line` printed, up to the next prompt."""
    child.sendline(line)
    child.expect(PROMPT)
    return child.before.split("\r\n", 1)[1].replace("\r\n", "\n")


def continued(child, typed: str = "") -> str:
    """The continuation the model writes after `typed` (the text it adds to the story)."""
    before = shown_text(child)
    child.sendline(typed)
    child.expect(PROMPT)
    return shown_text(child)[len(before) + len(typed.replace("\\n", "\n")):]


def holds(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w']){re.escape(word)}(?![\w'])", text) is not None


def test_include_puts_the_word_in_every_continuation(plain):
    assert command(plain, "/include cat") == "  constraints: include ['cat']"
    first, second = continued(plain, " "), continued(plain)
    assert len(first) == len(second) == 30 and holds(first, "cat") and holds(second, "cat")
    assert command(plain, "/constraints") == "  constraints: include ['cat']"
    assert command(plain, "/include off") == "  constraints: none"


def test_pattern_and_ban_hold_in_continuations_suggestions_and_beams(plain):
    command(plain, "/pattern [a-z]+( [a-z]+)*")
    assert "ban_chars 'e'" in command(plain, "/ban e")
    text = continued(plain, " ")
    assert re.fullmatch("[a-z]+( [a-z]+)*", text) and "e" not in text, text
    plain.sendline("/suggest 2")
    plain.expect(r"pick 1-2 \(Enter: none\): ")
    for option in re.findall(r"  \d: '(.*)'", plain.before):
        assert re.fullmatch("[a-z]+( [a-z]+)*", option) and "e" not in option, option
    plain.sendline("")
    plain.expect(PROMPT)
    plain.sendline("/beam 4")
    plain.expect(r"\[beam 4")
    beamed = plain.before.split("\r\n")[1]
    plain.expect(PROMPT)
    assert re.fullmatch("[a-z]+( [a-z]+)*", beamed) and "e" not in beamed, beamed


def test_constraints_off_lifts_them_all(plain):
    command(plain, "/ban abcdefghijklmnopqrstuvwxyz.")
    command(plain, r"/exclude the s")
    assert continued(plain, " ").strip(" \n") == ""  # nothing left to write but blanks
    assert command(plain, "/constraints off") == "  constraints: none"
    assert re.search("[a-z]", continued(plain))


def test_acrostic_starts_each_line_with_its_letter(plain):
    command(plain, "/acrostic hi")
    lines = continued(plain, "\\n").split("\n")
    assert [line[:1] for line in lines[:2]] == ["h", "i"], lines


def test_bad_constraints_are_one_line_and_the_session_goes_on(plain):
    for typed, said in (("/pattern (", "error: /pattern: not a valid regular expression"),
                        ("/include " + "abcdefgh" * 5, "error: no text of 30 characters"),
                        ("/include Zebra", "error: /include: 'Zebra' has character(s) the "
                                           "model never saw"),
                        ("/include two words!", "error: /include takes whole words"),
                        ("/syllables 5,x", "error: /syllables takes whole numbers"),
                        ("/in-order maybe", "error: usage: /in-order on|off"),
                        ("/words-only x", "error: usage: /words-only [SHARE]"),
                        ("/words-only", "error: /words-only needs the words of the model's")):
        out = command(plain, typed)
        assert out.startswith(said) and "\n" not in out, (typed, out)
    assert command(plain, "/constraints") == "  constraints: none"  # none was kept
    command(plain, "/include cat")
    out = command(plain, "/length 2")  # too short for the word: refused, the word kept
    assert out.startswith("error: no text of 2 characters") and "\n" not in out
    made = continued(plain, " ")
    assert len(made) == 30 and holds(made, "cat")


def test_particles_are_a_setting_that_the_sampler_checks(plain):
    """/particles N draws each continuation by N rows, /particles auto by the default; a
    count the sampler refuses, or a stop string beside particles, is one line."""
    command(plain, "/include cat")
    assert command(plain, "/particles 4").startswith(
        "error: /particles draws at a temperature above 0")  # this session's is 0
    command(plain, "/temperature 1")
    assert command(plain, "/particles 4") == "  particles 4"
    assert holds(continued(plain, " "), "cat")
    assert command(plain, "/particles 0").startswith(
        "error: /particles must be between 1 and 1024")
    assert command(plain, "/stop .").startswith(
        "error: /particles draws texts of a fixed length")
    assert command(plain, "/particles auto") == "  particles None"
    assert command(plain, "/stop .") == "  stop ['.']"  # auto: masked beside a stop
    assert holds(continued(plain, " "), "cat")
    command(plain, "/stop off")
    command(plain, "/temperature 0")


def test_words_lists_the_likeliest_next_words_with_percentages(plain):
    lines = command(plain, "/words 4").split("\n")
    found = [re.fullmatch(r"  ([a-z.]+) +(\d+\.\d\d)%", line) for line in lines]
    assert len(found) == 4 and all(found), lines
    shares = [float(m[2]) for m in found]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 100
    assert len(command(plain, "/words").split("\n")) == 5
    assert command(plain, "/words 0").startswith("error: /words K must be between 1 and 50")


def test_the_constraint_options_start_the_session_with_them():
    """`charrnn write --include ... --ban-chars ...` (here its input piped, no terminal):
    the first continuation keeps to them, /constraints shows them, and options no text can
    meet are one line before the session starts."""
    import subprocess

    command = [sys.executable, "-m", "charrnn", "write", "--checkpoint", str(GOLDEN),
               "--length", "30", "--include", "zebra", "--ban-chars", "q"]
    shown = subprocess.run(command, input="the \n/constraints\n", capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    story = shown.stdout.split("> ")[1]  # what the first continuation wrote
    assert holds(story, "zebra") and "q" not in story, shown.stdout
    assert "constraints: include ['zebra'], ban_chars 'q'" in shown.stdout
    refused = subprocess.run([*command[:-5], "3", "--include", "zebra"], input="",
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and refused.stderr.startswith("error: no text of 3")
    assert refused.stderr.count("\n") == 1
