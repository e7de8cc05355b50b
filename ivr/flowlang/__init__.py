"""The flow language: YAML flows with line marks, their schema, compiler and checks, model, and tools over them.

- Source: ``yamlsource`` (YAML with line numbers), ``sources`` (flow files on disk), ``schema`` (the raw shape).
- Compiling, ``compile.load_bundle`` -> ``model.Bundle``: ``validate`` (schema conformance), ``nodes`` and ``values``
  (building nodes), ``speechcheck`` (speech parts), ``graph`` (each flow's graph), ``references`` (names across
  files), ``numbers`` (dialled numbers, default flow), over ``parsed`` (per-file state, the diagnostics sink).
- ``check``: what ``ivr flows check`` and the console report. Values: ``templating``, ``conditions``, ``schedule``,
  ``durations``. Tools: ``diagram``, ``edit``, ``scenarios`` (flow scenario tests).
"""
