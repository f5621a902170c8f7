"""``python -m training`` is no command: ``training`` is the library the CLI calls.

Train with ``featherserve train tabular|image NAME ...`` (``featherserve train --help``); the
library never reaches up to the CLI, so this only says where the command is.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    given = " ".join(sys.argv[1:] if argv is None else argv)
    print("python -m training: training is a library, not a command; run "
          f"`featherserve train {given or 'tabular|image NAME ...'}` instead "
          "(featherserve train --help)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
