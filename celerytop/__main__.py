"""``python -m celerytop``: the same as the ``celerytop`` command."""

from celerytop.cli import main

if __name__ == "__main__":
    main()
