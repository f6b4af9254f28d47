"""The geocoder: typed Chinese addresses → buildings and grid codes, points → grids, batch jobs."""
