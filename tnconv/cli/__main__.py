"""``python -m tnconv.cli``: the same as ``python -m tnconv``."""

import sys

from . import main

if __name__ == "__main__":  # pragma: no cover - run by `python -m tnconv.cli`
    sys.exit(main())
