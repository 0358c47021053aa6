"""Input data: the contract, the validating reader and datasets."""

from tfgnn_gfm.data.contract import FieldSpec, TableSpec, table_spec
from tfgnn_gfm.data.dataset import (
    Dataset,
    check_references,
    read_dataset,
    write_dead_letters,
)
from tfgnn_gfm.data.reader import (
    DEAD_LETTER_REASONS,
    DataContractError,
    TableData,
    check_primary_key,
    parse_timestamps,
    read_table,
    validate_rows,
)
from tfgnn_gfm.data.validate import (
    TooManyBadRowsError,
    ValidateConfig,
    format_summary,
    validate_dataset,
)
from tfgnn_gfm.data.writer import FORMATS, write_dataset, write_table
