"""Machine-readable data contract of tfgnn-gfm (installed as tfgnn_gfm.schemas).

The ``*.schema.json`` files are Frictionless Table Schemas, one per input table;
``tfgnn_gfm.data.contract`` loads them. See README.md in this folder.
"""
