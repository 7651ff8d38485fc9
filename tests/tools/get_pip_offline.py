"""Stand-in for pip's get-pip.py, which ansible-test downloads from a host these machines cannot reach.

ansible-test runs it with a fresh venv's python and pip-install arguments; the venv's own
ensurepip provides pip, then pip installs the pinned packages from PyPI.
"""
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args))
