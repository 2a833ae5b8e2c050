import sys

from ultrapost.cli import main

sys.exit(main())
