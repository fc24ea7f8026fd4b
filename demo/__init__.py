"""The embedded default's demo: an invented court, records of each category, a served
judgment and its certificate, so that `make run` shows every part working.

It sits above the three apps (it registers records through `documents` and verifies one
through `verification`), which is why it is an app of its own rather than part of one
of them.
"""
