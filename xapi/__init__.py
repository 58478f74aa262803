"""xAPI evidence intake: the Statements resource, validation, storage, mapping of
statements to competencies, and the client that pulls from another LRS.

May import ``referentiel``; never imports ``lti_tool`` or Flask outside ``xapi.web``.
"""
