"""Folder runs: plan, run, report, tables and correlation."""
