"""`python -m loyalty ...`: the operator commands (`loyalty.edge.cli`)."""

import sys

from loyalty.edge.cli import main

sys.exit(main())
