"""DC-09 framing and the [dc09] config section: CRC-16/ARC, frame layout, encrypted replies
that must decrypt with our key, strict config with the key never shown."""
import time

import pytest

from guardroom.config import secret_paths
from guardroom.dc09 import DC09_SCHEMA, frame
from guardroom.dc09.payload import Numbering, encode, event_class
from guardroom.errors import ConfigError

from .conftest import KEY128, KEY256


def test_crc_is_crc16_arc():
    assert frame.crc16("123456789") == "BB3D"


def test_plain_frame_layout():
    raw = frame.build("ADM-CID", 42, "1234", "1120 01 003", 0.0, receiver="1A", line="2")
    text = raw.decode()
    assert text[0] == "\n" and text[-1] == "\r"
    body = text[9:-1]
    assert body == '"ADM-CID"0042R1AL2#1234[#1234|1120 01 003]_00:00:00,01-01-1970'
    assert text[1:5] == frame.crc16(body) and int(text[5:9], 16) == len(body)


@pytest.mark.parametrize("key", [KEY128, KEY256])
def test_encrypted_frame_hides_the_data_and_decrypts(key):
    k = bytes.fromhex(key)
    raw = frame.build("ADM-CID", 1, "1234", "1120 01 003", time.time(), key=k).decode()
    assert '"*ADM-CID"0001L0#1234[' in raw and "1120" not in raw.split("[", 1)[1]
    hex_part = raw.split("[", 1)[1].strip()
    plain = frame.decrypt(k, hex_part)
    assert len(bytes.fromhex(hex_part)) % 16 == 0
    pad, rest = plain.split("|", 1)
    assert not set(pad) & set("|[]") and rest.startswith("1120 01 003]_")


def test_reply_checks():
    k = bytes.fromhex(KEY128)
    body = '"ACK"0007R0L0#1234[]'
    ok = f"\n{frame.crc16(body)}{len(body):04X}{body}\r".encode()
    assert frame.parse_reply(ok).kind == "ACK" and frame.parse_reply(ok).seq == 7
    bad = ok.replace(b"ACK", b"ACK", 1)[:1] + b"0000" + ok[5:]
    assert frame.parse_reply(bad).kind == "" and "CRC" in frame.parse_reply(bad).problem
    # a plain ACK when we encrypt is not proof the receiver knows the key
    assert frame.parse_reply(ok, k).kind == ""
    enc = '"*ACK"0007R0L0#1234[' + frame.encrypt(k, "]" + frame.timestamp(time.time()))
    good = f"\n{frame.crc16(enc)}{len(enc):04X}{enc}\r".encode()
    assert frame.parse_reply(good, k).kind == "ACK"
    other = bytes.fromhex(KEY256[:32][::-1])
    assert frame.parse_reply(good, other).kind == ""
    assert frame.parse_reply(b'"NAK"').kind == "NAK"          # pysiaalarm's bare NAK


def test_payloads_and_classes():
    n = Numbering({"areas": {"a": {}, "b": {}}, "zones": [{"name": "z1"}, {"name": "z2"}],
                   "users": [{"name": "bob"}]})
    ev = {"kind": "alarm", "cid": "1120", "area": "b", "zone": "z2"}
    assert encode(ev, n) == {"id": "ADM-CID", "data": "1120 02 002",
                             "alt": {"id": "SIA-DCS", "data": "Nri2/PA002"}}
    close = {"kind": "area", "cid": "3401", "area": "a", "zone": "", "user": "pin:bob"}
    assert encode(close, n)["data"] == "3401 01 001"
    assert encode({"kind": "drill", "cid": "0000", "area": "a"}, n)["id"] == "SIA-DCS"
    assert encode({"kind": "command", "cid": "0000"}, n) is None
    assert event_class(ev) == "alarm"
    assert event_class({"kind": "trouble", "cid": "1144"}) == "tamper"
    assert event_class({"kind": "trouble", "cid": "1301"}) == "trouble"


def test_config_is_strict_and_the_key_secret():
    good = {"account": "1234", "key": KEY128,
            "receivers": [{"name": "a", "host": "arc.example", "port": 10500}]}
    c = DC09_SCHEMA.validate(good, "dc09")
    assert c["attempts"] == 3 and c["classes"] == ["alarm", "restore", "tamper"]
    assert c["receivers"][0]["protocol"] == "tcp"
    with pytest.raises(ConfigError) as e:
        DC09_SCHEMA.validate({**good, "key": KEY128[:-2], "attemps": 3}, "dc09")
    text = str(e.value)
    assert "attemps" in text and "<hidden>" in text and KEY128[:-2] not in text
    with pytest.raises(ConfigError, match="duplicate receiver"):
        DC09_SCHEMA.validate({**good, "receivers": good["receivers"] * 2}, "dc09")
    with pytest.raises(ConfigError, match="above the maximum"):
        DC09_SCHEMA.validate({**good, "attempts": 99}, "dc09")
    assert "dc09.key" in secret_paths()


def test_numbers_table_for_the_arc(tmp_path, capsys):
    from guardroom.dc09.__main__ import main
    from guardroom.emulators.site import default_site_file

    text = open(default_site_file(), encoding="utf-8").read() + f"""
[dc09]
account = "12AB"
key = "{KEY256}"

[[dc09.receivers]]
name = "arc1"
host = "127.0.0.1"
port = 10500
"""
    site = tmp_path / "site.toml"
    site.write_text(text)
    assert main([str(site)]) == 0
    out = capsys.readouterr().out
    assert "account 12AB" in out and "AES-256" in out and KEY256 not in out
    assert "zone    1  panic_reception" in out and "area    2  perimeter" in out
