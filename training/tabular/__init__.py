"""Tabular models from a table: read (kinds, task), split, preprocess (inside the graph),
teacher, students, export, int8, report, gate, publish.

``build.build_tabular_model`` is the entry point
(``featherserve train tabular NAME --data FILE.csv --target COLUMN``).
"""
