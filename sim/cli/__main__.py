"""``python -m sim.cli``: the chakong command."""

import sys

from sim.cli import main

sys.exit(main())
