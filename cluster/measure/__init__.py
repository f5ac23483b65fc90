"""Measurements of masks: length, regions, counts, tables of files."""
