"""The competency référentiel domain: frameworks, blocs, competencies, criteria,
their import and export formats, and achievement rules as plain functions.

This package never imports Flask, ``xapi`` or ``lti_tool``.
"""
