"""The smallest valid site config (one panic zone on a mock GPIO pin), shared by the config
and `guardroom check` tests; each test edits its copy with ``str.replace``."""

MINIMAL = """
[site]
name = "s"
controller = "c1"
[mqtt]
host = "127.0.0.1"
[areas.main]
[[zones]]
name = "p1"
point = "p1"
type = "panic"
area = "main"
[drivers.gpio]
factory = "mock"
[[drivers.gpio.input]]
point = "p1"
pin = 17
"""
