"""`python -m loyalty_local.whatif --program candidate.yaml`: see `loyalty_local.whatif`."""

import sys

from loyalty_local.whatif import main

sys.exit(main())
