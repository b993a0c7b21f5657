"""guardroom: edge controller for panic (hold-up) alarms and perimeter intrusion hardware."""
__version__ = "0.1.0"
