/* global ol, MapWidget */
// The admin map's background, drawn from our own database instead of an internet tile server.
//
// The server (layers.widgets.basemap) answers GeoJSON in EPSG:3857 for a bbox.  Zoomed out it sends
// boundaries and main roads only; zoomed in (below config.detailResolution metres per pixel) also minor
// roads, road names and the grids in force, so crossing that threshold reloads the background.
'use strict';
window.OneNetBasemap = (function () {
    const ADMIN = {
        district: {color: '#7b5b86', width: 2.5, dash: [10, 5]},
        street: {color: '#9c84a6', width: 1.6, dash: [7, 4]},
        community: {color: '#b7a6bf', width: 1, dash: [3, 3]}
    };
    const ROAD = {
        arterial: {width: 6, casing: '#c9b99a', fill: '#fbe9b7'},
        secondary: {width: 4.5, casing: '#cdc5b4', fill: '#ffffff'},
        branch: {width: 2.5, casing: '#d6d0c4', fill: '#ffffff'},
        rural: {width: 2, casing: '#d9d3c3', fill: '#f7f4ec'}
    };
    const FILL = {
        water: new ol.style.Style({fill: new ol.style.Fill({color: '#aad3df'}), zIndex: 1}),
        park: new ol.style.Style({fill: new ol.style.Fill({color: '#c8e6b4'}), zIndex: 0}),
        square: new ol.style.Style({fill: new ol.style.Fill({color: '#dcefcf'}), zIndex: 0}),
        farmland: new ol.style.Style({fill: new ol.style.Fill({color: '#eef0d5'}), zIndex: 0})
    };
    const GRID = new ol.style.Style({
        stroke: new ol.style.Stroke({color: 'rgba(214, 120, 36, 0.8)', width: 1.2}),
        zIndex: 5
    });
    const cache = {};

    function adminStyle(level) {
        const key = 'admin-' + level;
        if (!cache[key]) {
            const s = ADMIN[level] || ADMIN.community;
            cache[key] = new ol.style.Style({
                stroke: new ol.style.Stroke({color: s.color, width: s.width, lineDash: s.dash}),
                zIndex: 6
            });
        }
        return cache[key];
    }

    function roadStyles(kind, name, labelled) {
        const s = ROAD[kind] || ROAD.branch;
        const key = 'road-' + kind;
        if (!cache[key]) {
            cache[key] = [
                new ol.style.Style({stroke: new ol.style.Stroke({color: s.casing, width: s.width + 2}), zIndex: 2}),
                new ol.style.Style({stroke: new ol.style.Stroke({color: s.fill, width: s.width}), zIndex: 3})
            ];
        }
        if (!labelled || !name) {
            return cache[key];
        }
        // Local fonts only: no glyph server on a closed network.
        return cache[key].concat(new ol.style.Style({
            text: new ol.style.Text({
                text: name,
                placement: 'line',
                font: '12px sans-serif',
                fill: new ol.style.Fill({color: '#5b5346'}),
                stroke: new ol.style.Stroke({color: '#ffffff', width: 3})
            }),
            zIndex: 4
        }));
    }

    function create(config) {
        let detail = false;
        const source = new ol.source.Vector({
            format: new ol.format.GeoJSON({dataProjection: 'EPSG:3857'}),
            strategy: ol.loadingstrategy.bbox,
            url: function (extent) {
                return config.url + '?bbox=' + extent.map(function (v) { return v.toFixed(1); }).join(',') +
                    '&detail=' + (detail ? '1' : '0');
            }
        });
        const layer = new ol.layer.Vector({
            source: config.url ? source : new ol.source.Vector(),
            style: function (feature, resolution) {
                const p = feature.getProperties();
                switch (p.layer) {
                case 'admin': return adminStyle(p.level);
                case 'road': return roadStyles(p.kind, p.name, resolution < config.detailResolution / 4);
                case 'water': return FILL.water;
                case 'green': return FILL[p.kind] || FILL.park;
                // Loaded with the detail level, drawn only closer in, where one grid is more than a few pixels.
                case 'grid': return resolution < config.detailResolution / 2 ? GRID : null;
                default: return null;
                }
            },
            updateWhileInteracting: false
        });
        if (config.url) {
            source.on('featuresloaderror', function () {
                if (window.console) {
                    window.console.warn(config.loadError);
                }
            });
        }

        function attach(widget) {
            const view = widget.map.getView();
            // An empty widget (an add page) opens on the district rather than at 0°, 0°.
            if (widget.featureCollection.getLength() === 0 && config.home) {
                view.fit(config.home, {padding: [10, 10, 10, 10]});
            }
            detail = (view.getResolution() || Infinity) < config.detailResolution;
            view.on('change:resolution', function () {
                const wanted = (view.getResolution() || Infinity) < config.detailResolution;
                if (wanted !== detail && config.url) {
                    detail = wanted;
                    source.refresh();  // the loaded extents were fetched at the other level of detail
                }
            });
        }

        return {layer: layer, source: source, attach: attach};
    }

    return {create: create};
})();

// Start every offline map of the page (layers/templates/layers/offline-openlayers.html): the template
// carries no script of its own, so the Content-Security-Policy can forbid inline scripts.
(function () {
    function start(wrapper) {
        const d = wrapper.dataset;
        const config = JSON.parse(document.getElementById(d.configId).textContent);
        const basemap = window.OneNetBasemap.create(config);
        // MapWidget is a class declared by OLMapWidget.js: a global binding, not a property of window.
        const widget = new MapWidget({
            base_layer: basemap.layer,
            geom_name: d.geomName,
            id: d.widgetId,
            map_id: d.widgetId + '_map',
            map_srid: Number(d.mapSrid),
            name: d.name
        });
        basemap.attach(widget);
        window[d.module] = widget;  // as Django's own template does: geodjango_<field>
    }

    function startAll() {
        document.querySelectorAll('.onenet-map[data-widget-id]').forEach(start);
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', startAll);
    } else {
        startAll();
    }
})();

