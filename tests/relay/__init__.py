"""Tests of the MQTT relay, outbox, event log and command authentication."""
