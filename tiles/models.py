"""The tiles app has no Django models: its derived tables are generated from the layer registry.

This module exists so that Django sends the app its post_migrate signal (it skips apps without one),
which installs those tables and their triggers (tiles.schema.sync).
"""
