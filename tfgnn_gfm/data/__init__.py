"""Input data: the contract, the validating reader and datasets."""

from tfgnn_gfm.data.contract import FieldSpec
from tfgnn_gfm.data.contract import TableSpec
from tfgnn_gfm.data.contract import table_spec
from tfgnn_gfm.data.dataset import Dataset
from tfgnn_gfm.data.dataset import check_references
from tfgnn_gfm.data.dataset import read_dataset
from tfgnn_gfm.data.dataset import write_dead_letters
from tfgnn_gfm.data.reader import DEAD_LETTER_REASONS
from tfgnn_gfm.data.reader import DataContractError
from tfgnn_gfm.data.reader import TableData
from tfgnn_gfm.data.reader import check_primary_key
from tfgnn_gfm.data.reader import parse_timestamps
from tfgnn_gfm.data.reader import read_table
from tfgnn_gfm.data.reader import validate_rows
from tfgnn_gfm.data.writer import FORMATS
from tfgnn_gfm.data.writer import write_dataset
from tfgnn_gfm.data.writer import write_table
from tfgnn_gfm.data.validate import TooManyBadRowsError
from tfgnn_gfm.data.validate import ValidateConfig
from tfgnn_gfm.data.validate import format_summary
from tfgnn_gfm.data.validate import validate_dataset
