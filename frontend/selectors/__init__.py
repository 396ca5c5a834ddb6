"""Reads that compose the pages: the campaign dashboard and the library browser."""
