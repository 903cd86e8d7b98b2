"""The cffi extension is declared here; everything else is in pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["csrc/build_ffi.py:ffibuilder", "csrc/link/build_link.py:ffibuilder"])
