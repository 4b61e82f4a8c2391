"""The compatible read APIs, one folder per style: views and the style's mapping table."""
