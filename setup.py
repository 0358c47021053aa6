"""tfgnn-gfm: a graph foundation model for personalization on TensorFlow.

Also works as a Beam ``--setup_file``: remote workers run ``pip install`` on
this project's sdist, which installs ``tfgnn_gfm`` and the ``beam`` pipelines.
"""

import pathlib
import re

import setuptools

_ROOT = pathlib.Path(__file__).resolve().parent
_VERSION = re.search(r'__version__ = "([^"]+)"',
                     (_ROOT / "tfgnn_gfm" / "version.py").read_text()).group(1)

# The verified dependency set (docs/DESIGN.md section 7.1), pinned exactly.
_PINNED = [
    "tensorflow==2.20.0",
    "tf-keras==2.20.1",
    "tensorflow-gnn==1.0.3",
    "tensorflow-recommenders==0.7.7",
    "tensorflow-hub==0.16.1",
    "tensorflow-text==2.20.1",
    "tensorflow-serving-api==2.20.0",  # TF Serving's config and log protos.
    "scann==1.4.2",
    "apache-beam==2.77.0",
    "implicit==0.7.2",  # ALS and BPR peers of gfm evaluate.
    "scipy==1.17.1",  # Sparse matrices and EASE's closed form.
    "threadpoolctl==3.8.0",  # One BLAS thread while implicit fits.
]
# Supporting libraries, bounded to the versions tested together here.
_SUPPORT = [
    "crcmod>=1.7",  # Beam's TFRecord IO needs a CRC implementation.
    "setuptools>=65,<81",  # tensorflow-hub 0.16.1 imports pkg_resources.
    "numpy>=1.26,<3",
    "pandas>=2.2,<4",
    "pyarrow>=15",
    "pyyaml>=6",
    "tqdm>=4.66",
    "matplotlib>=3.8",
    "aiohttp>=3.9,<4",
]

setuptools.setup(
    name="tfgnn-gfm",
    version=_VERSION,
    description=("Graph foundation model for personalization: Beam graph "
                 "building, TF-GNN GraphSAGE pretraining, TFRS two-tower "
                 "retrieval and TF Serving exports."),
    long_description=(_ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.13",
    packages=setuptools.find_packages(include=["tfgnn_gfm", "tfgnn_gfm.*",
                                               "beam", "beam.*"]) +
    ["tfgnn_gfm.schemas"],
    package_dir={"tfgnn_gfm.schemas": "schemas"},
    package_data={"tfgnn_gfm.schemas": ["*.json", "*.pbtxt", "*.md"]},
    include_package_data=True,
    install_requires=_PINNED + _SUPPORT,
    extras_require={
        "test": ["pytest>=8", "pytest-timeout>=2.3", "hypothesis==6.170.15",
                 "ruff==0.17.6"],
    },
    entry_points={"console_scripts": ["gfm = tfgnn_gfm.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
