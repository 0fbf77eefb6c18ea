"""The ``sitecustomize`` that ``gitxp run`` puts first on the path of the program it starts."""
