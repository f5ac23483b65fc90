"""``rptui bench``: the paper's experiment with a simulated annotator.

A run builds a project from images with ground-truth masks, lets a simulated user
annotate it (corrective or dense) against the live trainer and segmenter through the
:class:`cluster.api.Backend` seam, exactly as the app would, and writes per-image
records, the epoch log, the final model, held-out metrics and plots into one folder.
"""
