"""The review session without any UI: one session made of parts (viewer, brush, serve
order, pre-segmenter, saver), the backend link, and the training sync into the project."""
