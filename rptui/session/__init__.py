"""The review session without any UI: viewing, painting, accepting, serving, training sync."""
