"""ramvid-bench: protocols, runner, tables and the command line."""
