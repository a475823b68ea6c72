"""Self-contained HTML pages and SVG charts for every report and view rulec writes."""
