"""What a run or a comparison writes for people: the comparison document, Markdown, the HTML page."""
