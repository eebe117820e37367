"""What the networks are; and the method registry that drives the widget, the CLI and the API."""
