"""``python -m translator`` is ``torch2flax``."""

import sys

from translator.cli import main

sys.exit(main())
