"""``python -m tnconv``: the ``tnconv`` command line (:func:`tnconv.cli.main`)."""

import sys

from .cli import main

if __name__ == "__main__":  # pragma: no cover - run by `python -m tnconv`
    sys.exit(main())
