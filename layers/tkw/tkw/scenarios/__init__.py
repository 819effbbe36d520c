"""TKW's sentinel scenarios as data (``scenarios.yaml``) and the small engine that answers them.

- :mod:`tkw.scenarios.classify`: which BaRS workflow a ``$process-message`` Bundle is.
- :mod:`tkw.scenarios.model`: the schema of the table (named tuples) and its rules.
- :mod:`tkw.scenarios.engine`: request -> facts -> matching row -> response.
- :mod:`tkw.scenarios.table`: the table as Markdown (``docs/scenarios.md``).

Kept import-light: importing :mod:`tkw.scenarios.classify` does not load the table.
"""
