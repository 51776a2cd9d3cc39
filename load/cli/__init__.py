"""The ``chakong`` subcommands of the load half, registered through ``chakong.commands``."""
