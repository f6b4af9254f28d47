"""Redrawing grid boundaries: drafts, edit operations, validation, impact, atomic publish, history.

See docs/BOUNDARIES.md for the design (why every operation is a local repartition).
"""
