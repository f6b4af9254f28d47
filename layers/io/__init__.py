"""Import and export of the registry's layers as GeoJSON, ESRI Shapefile and GeoPackage (through GDAL).

The modules are usable without the management commands (an upload view can call `importer.run_import`),
so they raise `LayerIOError` rather than Django's CommandError; the commands translate.

- formats.py    which GDAL drivers, extensions and field types we write
- encoding.py   which text encoding a shapefile's attributes are in (.cpg, DBF language id, sniffing)
- reproject.py  CRS parsing and reprojection with pyproj (always_xy)
- fields.py     published property ↔ file column names (shapefile 10-character names) and value parsing
- locate.py     what a feature's location says about it: community, district, comprehensive grid, city
- mappings.py   per layer: how a file feature becomes a model row
- importer.py   read → validate every feature → write all or nothing
- exporter.py   model rows → file, with the registry's published properties
"""
