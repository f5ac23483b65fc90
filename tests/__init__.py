"""Tests of rptui and cluster."""
