"""Reports: report data → HTML (Jinja) → PDF (WeasyPrint), CSV, and the SVG charts shared
with the admin."""
