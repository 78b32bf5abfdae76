"""Entry point for ``python -m audiokit``."""

from audiokit.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
