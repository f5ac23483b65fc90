"""Simulated annotators and generated images with exact ground truth."""
