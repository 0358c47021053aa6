"""Importers that turn public datasets into the data contract."""

from tfgnn_gfm.importers.movielens import (
    MovieLensImportConfig,
    import_movielens,
)
