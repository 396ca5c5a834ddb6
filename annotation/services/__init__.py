"""Services of the annotation app (writes). Each module re-exports its public names here."""

from annotation.services.annotations_io import (  # noqa: F401
    AnnotationImportReport,
    annotations_export_jsonl,
    annotations_import_jsonl,
)
from annotation.services.assignment import (  # noqa: F401
    LeasedTask,
    Submitted,
    task_next,
    task_skip,
    task_submit,
    task_submit_and_next,
)
from annotation.services.campaign_counts import (  # noqa: F401
    CountMismatch,
    campaign_counts_check,
    campaign_counts_rebuild,
)
from annotation.services.demo import DemoImportReport, demo_library_import  # noqa: F401
from annotation.services.queries import (  # noqa: F401
    QueryImportError,
    QueryImportReport,
    queries_import,
)
from annotation.services.stickers import ImportReport, stickers_import  # noqa: F401
