"""Inference: tiled segmentation with flip TTA and ensembles, uncertainty scores."""
