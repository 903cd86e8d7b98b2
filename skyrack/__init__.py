"""The `skyrack` command line: composition only."""
