"""Report and chart builders: plain data in, tables, Plotly figures or files out.

Nothing here imports Flask or the database, so these builders are tested without an app.
"""
