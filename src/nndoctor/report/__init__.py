"""Views of a Report: terminal (rich), JSON, HTML."""
