"""Live widgets: ipywidgets shells over pure render functions (the computing they show lives
in training/, models/ and the lesson modules; ``widgets.probability`` still holds the EM fit
of its mixture widget).

Each section's widgets live in their own module and are imported from there,
e.g. ``from course_lib.widgets.toy import toy_explorer``.
"""
from course_lib.widgets.core import Panel, Status, Timer, guarded

__all__ = ["Panel", "Status", "Timer", "guarded"]
