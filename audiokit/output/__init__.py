"""The output layer: one contract for every command's outputs.

- :mod:`~audiokit.output.policy` — what to do with outputs that exist
  (refuse, ``--overwrite``, ``--skip-existing``, ``--update``);
- :mod:`~audiokit.output.files` — staging, atomic no-clobber commits, sets of
  files committed as one, and cleaning up after killed runs;
- :mod:`~audiokit.output.lock` — one run at a time per output (exit 75 otherwise);
- :mod:`~audiokit.output.naming` — the per-file planner (``-o`` file, directory or
  ``-``, ``--name`` templates, collisions, mirrored trees);
- :mod:`~audiokit.output.tables` — the table-or-stdout sink, with ``--update``.
  (:mod:`~audiokit.output.table_state`: the ``--update`` state stored with a table;
  :mod:`~audiokit.output.table_file`: one file's spec, writer and queued rows).

Nothing here imports click; commands reach it through ``audiokit.cli.outputs``.
"""
