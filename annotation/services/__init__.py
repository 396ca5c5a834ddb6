"""Services of the annotation app (writes). Each module re-exports its public names here."""

from annotation.services.demo import DemoImportReport, demo_library_import  # noqa: F401
from annotation.services.queries import (  # noqa: F401
    QueryImportError,
    QueryImportReport,
    queries_import,
)
from annotation.services.stickers import ImportReport, stickers_import  # noqa: F401
