"""The line editor, byte by byte, as a serial terminal sends them."""
import pytest

from guardroom.console.terminal import Hangup, Interrupt, Line, LineEditor


def feed(ed, data):
    return ed.feed(data)


def lines(events):
    return [e.text for e in events if isinstance(e, Line)]


@pytest.mark.parametrize("end", [b"\r", b"\n", b"\r\n"])
def test_line_endings_each_give_one_line(end):
    ed = LineEditor()
    echo, ev = ed.feed(b"status" + end)
    assert lines(ev) == ["status"]
    assert echo == b"status\r\n"
    ed.start_line()
    # the next line is not doubled by the LF of a CRLF
    echo, ev = ed.feed(b"zones" + end)
    assert lines(ev) == ["zones"]


def test_crlf_split_across_reads_is_one_line():
    ed = LineEditor()
    _, ev = ed.feed(b"help\r")
    assert lines(ev) == ["help"]
    ed.start_line()
    _, ev = ed.feed(b"\n")
    assert ev == []
    _, ev = ed.feed(b"\r")
    assert lines(ev) == [""]          # a real empty line (Enter) after it still counts


@pytest.mark.parametrize("erase", [b"\x08", b"\x7f"])
def test_backspace_and_delete_erase_on_screen(erase):
    ed = LineEditor()
    echo, ev = ed.feed(b"statux" + erase + b"s\r")
    assert lines(ev) == ["status"]
    assert echo == b"statux\b \bs\r\n"


def test_backspace_on_empty_line_echoes_nothing():
    ed = LineEditor()
    echo, ev = ed.feed(b"\x7f\x7f\x08")
    assert echo == b"" and ev == []


def test_ctrl_u_and_ctrl_w():
    ed = LineEditor()
    ed.feed(b"arm main")
    echo, _ = ed.feed(b"\x17")
    assert ed.buf == "arm " and echo == b"\b \b" * 4
    ed.feed(b"\x15")
    assert ed.buf == ""


def test_ctrl_c_cancels_the_line():
    ed = LineEditor()
    echo, ev = ed.feed(b"disarm main\x03")
    assert isinstance(ev[0], Interrupt) and ed.buf == ""
    assert echo.endswith(b"^C\r\n")


def test_ctrl_d_is_hangup():
    ed = LineEditor()
    _, ev = ed.feed(b"\x04")
    assert isinstance(ev[0], Hangup)


def test_not_reading_drops_typing_but_passes_ctrl_c():
    ed = LineEditor()
    ed.stop()
    echo, ev = ed.feed(b"abc\rdef\x03")
    assert echo == b""
    assert len(ev) == 1 and isinstance(ev[0], Interrupt)


def test_arrow_keys_are_consumed_and_up_recalls_history():
    ed = LineEditor()
    ed.feed(b"zones\r")
    ed.start_line()
    ed.feed(b"status\r")
    ed.start_line()
    echo, ev = ed.feed(b"\x1b[A")
    assert ed.buf == "status" and ev == []
    ed.feed(b"\x1b[A")
    assert ed.buf == "zones"
    ed.feed(b"\x1b[B")
    assert ed.buf == "status"
    ed.feed(b"\x1b[B")
    assert ed.buf == ""
    # modified arrows and F-keys: never in the line
    ed.feed(b"ab\x1b[1;5C\x1b[15~\x1b[24~c\r")
    assert ed.history[-1] == "abc"


def test_escape_split_across_reads():
    ed = LineEditor()
    ed.feed(b"x\x1b")
    ed.feed(b"[")
    ed.feed(b"D")
    _, ev = ed.feed(b"y\r")
    assert lines(ev) == ["yx"]             # the Left arrow moved the cursor before x


def test_secret_mode_masks_and_is_not_kept():
    ed = LineEditor()
    ed.start_line(secret=True)
    echo, ev = ed.feed(b"1234\x7f5\r")
    assert lines(ev) == ["1235"]
    assert b"1" not in echo and echo == b"****\b \b*\r\n"
    assert ed.history == []
    ed.start_line(secret=True)
    ed.feed(b"\x1b[A")                  # no history recall into a code prompt
    assert ed.buf == ""


def test_tab_completes_the_command_word():
    ed = LineEditor(complete=lambda w: ["walktest", "zones", "zone", "status"])
    echo, _ = ed.feed(b"wal\t")
    assert ed.buf == "walktest "
    ed.feed(b"\x15zo\t")
    assert ed.buf == "zone"


def test_utf8_and_line_length():
    ed = LineEditor()
    _, ev = ed.feed("Müller\r".encode())
    assert lines(ev) == ["Müller"]
    ed.start_line()
    echo, _ = ed.feed(b"a" * 600)
    assert len(ed.buf) == 512 and echo.endswith(b"\x07")
    echo, _ = ed.feed(b"\x7f")
    assert len(ed.buf) == 511


def test_other_control_bytes_ignored():
    ed = LineEditor()
    _, ev = ed.feed(b"he\x00\x02\x06lp\r")
    assert lines(ev) == ["help"]


def test_lone_escape_does_not_swallow_the_next_key():
    ed = LineEditor()
    _, ev = ed.feed(b"\x1bhelp\r")
    assert lines(ev) == ["help"]
    ed.start_line()
    _, ev = ed.feed(b"st\x1b\x1batus\r")
    assert lines(ev) == ["status"]


def test_left_right_home_end_delete_edit_inside_the_line():
    ed = LineEditor()
    # "zoens": left twice, delete 'e'... typed as a user would fix it
    echo, _ = ed.feed(b"zoens\x1b[D\x1b[D\x1b[D")
    assert ed.pos == 2 and echo.endswith(b"\b\b\b")
    echo, _ = ed.feed(b"\x1b[3~")            # Delete under the cursor: 'e' goes
    assert ed.buf == "zons" and echo == b"ns \b\b\b"
    echo, _ = ed.feed(b"\x1b[Ce")            # Right, then insert 'e' before 's'
    assert ed.buf == "zones" and echo == b"nes\b"
    ed.feed(b"\x1b[H")                       # Home, then insert at the start
    assert ed.pos == 0
    ed.feed(b"\x1bOF 1")                     # End (SS3) and append
    assert ed.buf == "zones 1" and ed.pos == 7
    ed.feed(b"\x1b[1~\x1b[3~")              # Home (VT) and Delete: the 'z' goes
    assert ed.buf == "ones 1"
    ed.feed(b"\x01z\x05\x7f2")               # Ctrl-A, z, Ctrl-E, backspace, 2
    _, ev = ed.feed(b"\r")
    assert lines(ev) == ["zones 2"]


def test_backspace_in_the_middle_redraws_the_tail():
    ed = LineEditor()
    ed.feed(b"abXc\x1b[D")
    echo, _ = ed.feed(b"\x7f")
    assert ed.buf == "abc" and echo == b"\bc \b\b"


def test_forget_drops_a_line_from_history():
    ed = LineEditor()
    ed.feed(b"login 7777\r")
    ed.start_line()
    ed.feed(b"help\r")
    ed.forget("login 7777")
    assert ed.history == ["help"]
