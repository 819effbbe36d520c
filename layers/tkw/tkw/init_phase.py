"""Lambda's init phase: no cyclic garbage collection while a handler module imports.

Importing a handler (Powertools, then the domain) builds tens of thousands of objects that live as
long as the execution environment; with the collector on, that import triggers dozens of
collections which walk every object built so far and free nothing (~10-40 ms of a cold start on a
2-vCPU machine, issue 13). Every ``functions/*/app.py`` imports this module first and calls
:func:`end` as its last line: the collector comes back with what the init phase built frozen out of
its way, so warm collections skip it too.
"""

import gc

gc.disable()


def end() -> None:
    """The handler module has imported: freeze what it built, collect again from now on."""
    gc.freeze()
    gc.enable()
