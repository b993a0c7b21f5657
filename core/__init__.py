"""guardroom.core: the alarm engine (placeholder until the engine lands)."""
