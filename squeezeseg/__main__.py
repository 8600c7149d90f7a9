"""`python -m squeezeseg`: the squeezeseg command."""

import sys

from squeezeseg.cli import main

sys.exit(main())
