"""Pages: the annotator page, the campaign page, the pair review queue, the model registry."""
