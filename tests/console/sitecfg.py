"""The test site: a small school with GPIO panic buttons, a door and beams (mock factory),
one siren and one strobe, a user, an installer and a duress code. Codes are hashed with few
iterations so logins stay fast in tests."""
from __future__ import annotations

from guardroom.codes import hash_code

USER_CODE, DURESS_CODE, INSTALLER_CODE = "1234", "1299", "9876"
ITER = 1000

# pin -> point for the inputs
INPUTS = {17: "panic_reception", 22: "door_main", 23: "beam_north", 24: "beam_south"}
# with extra=True: a tamper and a technical zone too (walk-test scope)
EXTRA_INPUTS = {25: "box_tamper", 26: "mains_lost"}
EXTRA_ZONES = """
[[zones]]
name = "box_tamper"
point = "box_tamper"
type = "tamper"
area = "main"

[[zones]]
name = "mains_lost"
point = "mains_lost"
type = "technical"
area = "main"
"""
SIREN_PIN, STROBE_PIN = 27, 5


OSDP_KEY = "00112233445566778899aabbccddeeff"


def osdp_toml(device: str) -> str:
    """One OSDP bus with the reader "front" at address 101 (secure channel)."""
    return f'''
[[drivers.osdp.port]]
name = "doors"
device = "{device}"
offline_after_s = 1

[[drivers.osdp.port.reader]]
name = "front"
address = 101
scbk = "{OSDP_KEY}"
tamper_point = "front_tamper"
'''


FENCE = """
[[drivers.modbus.bus.device]]
name = "fence1"
address = 2
profile = "fence"
[drivers.modbus.bus.device.points]
voltage = "fence1_voltage"
"""


def modbus_toml(tcp_port: int, fence: bool = False) -> str:
    """A Modbus TCP bus with one DI8 module at address 1 (the emulator may play more), and
    with ``fence`` a fence energizer at address 2."""
    return f'''
[[drivers.modbus.bus]]
name = "lan"
transport = "tcp"
host = "127.0.0.1"
tcp_port = {tcp_port}
timeout_ms = 200

[[drivers.modbus.bus.device]]
name = "io1"
address = 1
profile = "di8"
[drivers.modbus.bus.device.points]
in1 = "io1_in1"
{FENCE if fence else ""}'''


def site_toml(storage: str, port: str, control_file: str, mqtt_port: int = 1,
              idle_s: int = 600, lock_s: int = 30, modbus_port: int = 0,
              extra: bool = False, console_extra: str = "", fence: bool = False,
              osdp_device: str = "", more_toml: str = "", language: str = "en") -> str:
    user = hash_code(USER_CODE, ITER)
    duress = hash_code(DURESS_CODE, ITER)
    inst = hash_code(INSTALLER_CODE, ITER)
    inputs = "\n".join(f'[[drivers.gpio.input]]\npoint = "{p}"\npin = {pin}\n'
                       for pin, p in {**INPUTS, **(EXTRA_INPUTS if extra else {})}.items())
    return f'''# Test site for the console tests.
[site]
name = "school"
controller = "ctrl-01"
description = "Test school"
language = "{language}"

[storage]
dir = "{storage}"
fsync_ms = 5

[mqtt]
host = "127.0.0.1"
port = {mqtt_port}
username = "ctrl-01"
password = "s3cret-mqtt"

[[users]]
name = "alice"
level = "user"
code_hash = "{user}"
duress_hash = "{duress}"

[[users]]
name = "ian"
level = "installer"
code_hash = "{inst}"

[areas.main]
entry_delay_s = 30   # the installer's comment, kept by config edits
exit_delay_s = 30
sirens = ["siren_main"]
strobes = ["strobe_main"]

[[zones]]
name = "panic_reception"
point = "panic_reception"
type = "panic"
area = "main"

[[zones]]
name = "door_main"
point = "door_main"
type = "entry_exit"
area = "main"

[[zones]]
name = "beam_north"
point = "beam_north"
type = "perimeter"
area = "main"

[[zones]]
name = "beam_south"
point = "beam_south"
type = "perimeter"
area = "main"
{EXTRA_ZONES if extra else ""}
[drivers.gpio]
factory = "mock"
control = "127.0.0.1:0"
control_file = "{control_file}"

{inputs}
[[drivers.gpio.output]]
name = "siren_main"
pin = {SIREN_PIN}
kind = "siren"

[[drivers.gpio.output]]
name = "strobe_main"
pin = {STROBE_PIN}
kind = "strobe"
{modbus_toml(modbus_port, fence) if modbus_port else ""}
{osdp_toml(osdp_device) if osdp_device else ""}
[console]
port = "{port}"
idle_logout_s = {idle_s}
{console_extra}

[console.lockout]
attempts = 5
lock_s = {lock_s}
{more_toml}
'''
