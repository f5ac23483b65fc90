"""The annotation canvas: rendering in numpy and the line-API widget."""
