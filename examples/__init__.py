"""Example site configs, installed as ``guardroom.examples`` so the demo finds them after a
plain ``pip install``: ``importlib.resources.files("guardroom.examples") / "school.toml"``."""
