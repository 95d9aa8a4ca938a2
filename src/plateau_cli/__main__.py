"""`python -m plateau_cli` runs the same entry point as the `plateau-cli` script."""

from plateau_cli.cli import main

if __name__ == "__main__":
    main()
