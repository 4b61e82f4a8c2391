"""Acknowledgements: recorded by the tracker itself as inbox rows (provider "tracker"), parsed like any provider's."""
