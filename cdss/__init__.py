"""cdss: clinical decision support for adults whose hip and knee hurt at the same time.

Decision support, not diagnosis: every output is advice for a clinician to weigh.
"""

__version__ = "0.1.0"
