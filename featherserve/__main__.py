"""``python -m featherserve`` is the ``featherserve`` command."""

import sys

from featherserve.cli import main

sys.exit(main())
