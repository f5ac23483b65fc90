"""The workspace on disk: datasets, projects, settings, locks, annotation files."""
