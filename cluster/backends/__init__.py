"""The seam's implementations: in-process, Ray actors, the isolated child process."""
