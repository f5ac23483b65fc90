"""The ``rptui`` argument parsers, one module per command group.

Each module only declares arguments; nothing here imports torch, Ray or the app, so
``rptui --help`` stays instant.
"""
