"""Entry script of the PyInstaller bundle: the same `main` as the `cocm-desktop` console script."""

import sys

from cocm_desktop.cli import main

if __name__ == "__main__":
    sys.exit(main())
