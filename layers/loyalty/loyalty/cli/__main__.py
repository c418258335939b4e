"""`python -m loyalty.cli import FILE`, `python -m loyalty.cli reconcile`, ...: `loyalty.edge.cli`."""

import sys

from loyalty.edge.cli import main

sys.exit(main(prog="python -m loyalty.cli"))
