"""HTTP shells: the receivers, the native API, the compatible API styles.

And their shared auth, limits, errors and arguments.
"""
