from django.apps import AppConfig


class PairbuilderConfig(AppConfig):
    name = "pairbuilder"
    verbose_name = "Pair builder and snapshots"
