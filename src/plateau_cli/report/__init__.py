"""What `resume` writes: the report (JSON and Markdown), history.csv and curves.png."""
