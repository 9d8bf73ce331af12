import sys

from cocm_desktop.cli import main

sys.exit(main())
