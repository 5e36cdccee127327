"""``sensor report``: a folder of static HTML (with SVG pictures), CSV and JSON for the people who own the risk."""
