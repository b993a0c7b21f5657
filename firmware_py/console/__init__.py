"""The serial commissioning console (issue 5): a line-oriented shell on a serial port for the
installer's laptop, with EN 50131 access levels, a wrong-code lockout, idle logout, live walk
test, buses, outputs and staged config edits. The daemon creates ``Console(host, config)`` when
the config has a ``[console]`` section."""
from ..codes import LOCKOUT_SCHEMA
from ..schema import Bool, Int, Section, Str

CONSOLE_SCHEMA = Section({
    "port": Str(doc="serial port: /dev/ttyUSB0, /dev/serial0, /dev/pts/N, a pyserial URL "
                    "(socket://host:port, rfc2217://...), or pty:LINK to create a "
                    "pseudo-terminal linked at LINK"),
    "baudrate": Int(default=115200, min=300, max=4_000_000, doc="8N1, no flow control"),
    "idle_logout_s": Int(default=600, min=2, max=86400,
                         doc="log out after this long without a key press"),
    "colour": Bool(default=False, doc="ANSI colours in the live views"),
    "utf8": Bool(default=True, doc="the terminal shows UTF-8 (picocom, PuTTY, screen): the "
                                   "console may speak Chinese (`lang zh`); false: English "
                                   "only, plain ASCII"),
    "rows": Int(default=24, min=0, max=200,
                doc="lines of the installer's terminal: longer output waits at a --More-- "
                    "prompt (space: next page, q: quit); 0 = never page"),
    "lockout": LOCKOUT_SCHEMA,
    "installer_needs_authorisation": Bool(
        default=False, doc="EN 50131 grade 3: while an area is armed, an installer code is "
                           "refused until a user has typed 'authorise' at the console"),
    "authorise_s": Int(default=1800, min=60, max=86400,
                       doc="seconds installer access stays open after a user's 'authorise'"),
    "banner": Str(default="", max_len=400, doc="extra line(s) under the banner, e.g. the site "
                                               "contact"),
})

from .console import Console  # noqa: E402

__all__ = ["Console", "CONSOLE_SCHEMA"]
