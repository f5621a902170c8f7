"""``python -m training ...``: an alias of ``featherserve train ...``.

    python -m training tabular breast_cancer --data sklearn:breast_cancer --target diagnosis
    python -m training image digits --preset digits
    python -m training image my_model --folder ./images   (a <root>/<label>/*.png folder)
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from featherserve.cli import main as featherserve

    return featherserve(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
