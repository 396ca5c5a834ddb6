"""Services of the pair builder (writes). Each module re-exports its public names here."""

from pairbuilder.services.builds import (  # noqa: F401
    campaign_sets_load,
    pair_build_params,
    pair_build_resume,
    pair_build_run,
    pair_build_start,
)
from pairbuilder.services.pairs_io import (  # noqa: F401
    PairImportReport,
    build_latest,
    builds_compare,
    pair_review_decide,
    pairs_export_csv,
    pairs_import,
)
from pairbuilder.services.snapshots import (  # noqa: F401
    snapshot_create,
    snapshot_run,
    snapshot_start,
)
