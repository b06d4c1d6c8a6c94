"""proeftuin: reproducible evaluation of the Dutch Pioneer sites (proeftuinen).

Data flows one way: ``sources`` -> ``panel`` -> ``plan`` -> notebooks (``pipeline``)
-> results -> ``report``. See ``ARCHITECTURE`` notes in the README.
"""

__version__ = "0.1.0"
