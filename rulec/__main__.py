"""`python -m rulec`: the command line."""

import sys

from rulec.cli.main import main

sys.exit(main())
