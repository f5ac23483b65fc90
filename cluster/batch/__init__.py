"""Batch segmentation of folders through Ray Data."""
