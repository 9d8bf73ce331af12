"""The one part of the build pyproject.toml cannot say: ship the top-level resources/ folder.

The stylesheet, icons and report fonts live in resources/ at the top of the repository (the
PyInstaller spec and the source checkout read them there). Wheels carry them as the data-only
package `cocm_desktop.resources`, where cocm_desktop.gui.resources, reports.pdf_common and the
self-check look for them. setuptools' `packages.find` cannot add a package mapped from outside
the package tree, so the package list is made here; which files ship is in pyproject.toml
(package-data), and tests/packaging/test_wheel_contents.py checks both.
"""

from setuptools import find_namespace_packages, setup

# Folders of resources/ that ship (not screenshots/: README pictures, not used by the app).
RESOURCE_PACKAGES = ["cocm_desktop.resources", "cocm_desktop.resources.fonts", "cocm_desktop.resources.icons"]

setup(
    packages=[*find_namespace_packages(include=["cocm_desktop*"]), *RESOURCE_PACKAGES],
    package_dir={"cocm_desktop.resources": "resources"},
)
