"""The process language and the pure case engine: no Temporal, no SQL, no I/O.

Definitions are read from YAML into typed models (``spec``), checked, compiled (``compiler``) and
run step by step by ``engine.CaseEngine``. Everything above this package (activities, workflows,
service, the entry points) imports it; it imports none of them.
"""
