"""`python -m squeezeseg.detection.cli`."""

import sys

from squeezeseg.detection.cli import main

sys.exit(main())
