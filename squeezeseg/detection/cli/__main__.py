"""`python -m squeezeseg.squeezedet_cli`."""

import sys

from squeezeseg.squeezedet_cli import main

sys.exit(main())
