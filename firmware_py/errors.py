"""Exception tree of the daemon package (guardroom)."""


class GuardroomError(Exception):
    """Base of every error the daemon raises on purpose."""


class ConfigError(GuardroomError):
    """The config is wrong. ``problems`` lists ``(key path, reason)`` pairs, all of them, so an
    installer fixes the file in one pass."""

    def __init__(self, problems):
        if isinstance(problems, tuple):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("; ".join(f"{k or '<root>'}: {why}" for k, why in self.problems))

    def __str__(self) -> str:
        lines = [f"  {k or '<root>'}: {why}" for k, why in self.problems]
        n = len(self.problems)
        return f"{n} config problem{'s' if n != 1 else ''}:\n" + "\n".join(lines)


class StorageError(GuardroomError):
    """The outbox, the event log or the state file cannot be written or read."""


class RelayError(GuardroomError):
    """The MQTT relay cannot do what was asked (bad TLS files, broker refused credentials)."""


class AuthError(GuardroomError):
    """A code, signature or command was refused."""
