"""Suites: readable YAML test flows (``tasks/suites/*.yaml``) run step by step on a device, with reports.

``model`` parses and validates a suite (errors as ``file:line: what was expected``) and gives its JSON Schema;
``runner`` plays suites on the sim, Android or a desktop; ``report`` writes JUnit XML and one self-contained
HTML page; ``cli`` is the ``handa suite`` command group.
"""
