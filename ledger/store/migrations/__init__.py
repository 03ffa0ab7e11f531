"""Not code: the SQL files beside this file. A package so that setuptools ships them (a
plain folder inside a package is ignored with a warning); read with importlib.resources."""
