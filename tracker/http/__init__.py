"""HTTP shells: the receivers, the native API, the compatible API styles, and their shared auth, limits, errors and arguments."""
