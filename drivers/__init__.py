"""Hardware I/O for guardroom: each channel (GPIO, Modbus, OSDP) turns the outside world into
time-stamped samples ``(t_ns, point, value)`` and executes output orders. Drivers know nothing
of zones, areas or alarms. Backends are chosen by name from config (see ``registry``)."""
