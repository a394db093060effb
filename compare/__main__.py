"""`python -m compare` is `mlp-compare`."""

import sys

from compare.cli import main

sys.exit(main())
