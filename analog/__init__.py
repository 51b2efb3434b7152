"""qcoreset.analog: simulated analog in-memory-computing (AIMC) inference.

This subpackage will hold the numpy-only crossbar simulator (tiles, device and
converter models, energy). It is installed as ``qcoreset.analog``; nothing in the
core package imports it.
"""

__all__: list[str] = []
