"""One module per subcommand family; each exposes ``run(args) -> int``."""
