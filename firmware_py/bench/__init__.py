"""Benchmarks (``guardroom bench ...``): each module has ``main(argv=None) -> int``."""
